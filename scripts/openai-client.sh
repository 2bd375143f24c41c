#!/usr/bin/env bash
# The official OpenAI Python client, for the serve tests that use it as a real client of
# /v1/chat/completions and /v1/embeddings: a venv of its own under .build (git-ignored), the
# client pinned, made once and reused (the stamp is written last, so a broken install is retried).
#
#   scripts/openai-client.sh    make the venv if needed; print its python
set -euo pipefail
cd "$(dirname "$0")/.."
OPENAI_VERSION=3.57.0
VENV=.build/openai-venv
STAMP=$VENV/.openai-$OPENAI_VERSION
if [ ! -f "$STAMP" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION" >&2
    "$VENV/bin/python" -c "import openai" >&2
    touch "$STAMP"
fi
echo "$PWD/$VENV/bin/python"
