#!/usr/bin/env bash
# pyspark (pinned, from PyPI) in a venv of its own for `make spark-index` and the Spark tests; it
# runs Spark in local mode on the machine's Java 17+, no Spark download. Made once per machine and
# cached outside the repository, keyed by version (as scripts/llama-server.sh caches its build);
# the stamp is written last, so a broken install is retried rather than taken as done.
#
#   scripts/spark-venv.sh    make the venv if needed; print its python
#
# Exit 69 without java (scripts/install-deps.sh test installs openjdk-17-jre-headless).
set -euo pipefail
PYSPARK_VERSION=4.3.0
CACHE=${RAGPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ragpipe}
VENV=$CACHE/pyspark-$PYSPARK_VERSION
STAMP=$VENV/.ready

log() { echo "spark-venv.sh: $*" >&2; }

command -v java >/dev/null || { log "no java on PATH (pyspark needs Java 17+): apt-get install -y openjdk-17-jre-headless"; exit 69; }
# `java -version` prints `openjdk version "17.0.15" …` (or "1.8.0_…" for Java 8) on stderr.
java_major=$(java -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p')
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
    log "java on PATH is version ${java_major:-unknown}; pyspark $PYSPARK_VERSION needs 17 or later"
    exit 69
fi
if [ ! -f "$STAMP" ]; then
    mkdir -p "$CACHE"
    rm -rf "$VENV"
    log "pyspark==$PYSPARK_VERSION into $VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pyspark==$PYSPARK_VERSION" >&2
    "$VENV/bin/python" -c "import pyspark" >&2
    touch "$STAMP"
fi
echo "$VENV/bin/python"
