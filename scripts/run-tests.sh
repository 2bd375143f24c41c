#!/usr/bin/env bash
# `make test` after the packages and the model are in place: llama-server (built once per machine,
# cached), the MiniLM GGUF, then the suite. Its last lines list every skipped suite and test with
# the reason, so a green run cannot hide one.
#
#   scripts/run-tests.sh MODEL_DIR [swift test arguments…]
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
model_dir=${1:?usage: $0 MODEL_DIR [swift test arguments]}
shift
output=.build/test-output.txt
mkdir -p .build

# The layers depend one way (docs/ARCHITECTURE.md): a violation fails before anything builds.
scripts/check-layers.sh || exit

notes=()
# Without cmake/ninja/g++ there is no server: its tests skip (and are listed below) rather than fail.
scripts/llama-server.sh build >/dev/null \
    || notes+=("scripts/llama-server.sh build failed (its message is above), so the LLM server tests skip")
scripts/llama-server.sh minilm-gguf "$model_dir" >/dev/null \
    || notes+=("scripts/llama-server.sh minilm-gguf failed (its message is above), so the HTTP-vs-native MiniLM test skips")

# The official OpenAI Python client (pinned, in a venv under .build) for the serve tests; without
# it those tests skip (and are listed below).
if openai_python=$(scripts/openai-client.sh); then
    export RAGPIPE_OPENAI_PYTHON=$openai_python
else
    notes+=("scripts/openai-client.sh failed (its message is above), so the OpenAI client test of serve skips")
fi

# pyspark (a venv cached per machine; needs java) and the archive Spark ships to executors
# (scripts/spark-pack.sh: release tools with the static Swift standard library, and the model) for
# the Spark tests; without them those tests skip (and are listed below).
if spark_python=$(scripts/spark-venv.sh) && spark_pack=$(scripts/spark-pack.sh "$model_dir"); then
    export RAGPIPE_SPARK_PYTHON=$spark_python RAGPIPE_SPARK_PACK=$PWD/$spark_pack
else
    notes+=("scripts/spark-venv.sh or scripts/spark-pack.sh failed (its message is above), so the Spark tests skip")
fi

# The tests run the executables and dlopen the HTTP plugin, which `swift test` alone does not build.
$SWIFT build || exit
$SWIFT test "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}

# Swift Testing prints `<symbol> Suite S skipped: "why"` and `<symbol> Test t() skipped: "why"`;
# XCTest prints `Test Case '…' skipped`.
skipped=$(grep -E "^[^ ]+ (Suite|Test) [^ ]+ skipped(:|\.|$)|^Test Case '[^']+' skipped" "$output" | sed -E 's/^[^ ]+ (Suite|Test) /\1 /')
echo
if [ -z "$skipped" ]; then
    echo "make test: nothing skipped"
else
    tests=$(grep -c '^Test' <<<"$skipped") suites=$(grep -c '^Suite' <<<"$skipped")
    echo "make test: skipped $suites suite$( [ "$suites" = 1 ] || echo s) and $tests test$( [ "$tests" = 1 ] || echo s):"
    sed 's/^/  /' <<<"$skipped"
fi
for note in "${notes[@]}"; do echo "make test: $note"; done
exit "$status"
