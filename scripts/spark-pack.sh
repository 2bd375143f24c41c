#!/usr/bin/env bash
# The archive Spark ships to every executor (`--archives ragpipe-spark.tar#ragpipe`): chunk, embed
# and build-index built with the Swift standard library (and Foundation's parts they use) linked
# in statically, so a worker needs no Swift toolchain, and the model beside them:
#
#   bin/chunk bin/embed bin/build-index    release, --static-swift-stdlib (build dir .build/static);
#   bin/query                              also query, for a serving machine without a toolchain
#   models/all-MiniLM-L6-v2/               the model folder (make model)
#   WORKER.txt                             what a worker must have: the shared libraries ldd lists
#
# It refuses to pack binaries that still need a libswift*.so, and runs the packed tools on three
# SciFact documents under `env -i` (PATH=/usr/bin:/bin, no LD_LIBRARY_PATH: no toolchain in
# sight) before it writes the archive (uncompressed: the model's floats do not compress).
#
#   scripts/spark-pack.sh MODEL_DIR [ARCHIVE]    default ARCHIVE: .build/spark/ragpipe-spark.tar
#
# Not packed: the HTTP plugin (libRagPipeHTTPPlugin.so, for `embed --embedder openai`): a
# dlopen'd library built against the static runtime would carry a second copy of it, so the packed
# embed runs the native and hash embedders only (README, "Spark").
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
model_dir=${1:?usage: $0 MODEL_DIR [ARCHIVE]}
archive=${2:-.build/spark/ragpipe-spark.tar}
scratch=.build/static
tools=(chunk embed build-index query)

log() { echo "spark-pack: $*" >&2; }

[ -f "$model_dir/model.safetensors" ] || { log "$model_dir/model.safetensors: missing (make model)"; exit 66; }
mkdir -p "$(dirname "$archive")"
build_log=$(dirname "$archive")/static-build.log
for tool in "${tools[@]}"; do
    "$SWIFT" build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$tool" > "$build_log" 2>&1 \
        || { tail -n 30 "$build_log" >&2; log "swift build -c release --static-swift-stdlib --product $tool failed (above; all of it in $build_log)"; exit 70; }
done
bin=$("$SWIFT" build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)

# Up to date: newer than every packed binary, the model and this script.
fresh=1
for input in "${tools[@]/#/$bin/}" "$model_dir/model.safetensors" "$0"; do
    [ -f "$archive" ] && [ "$archive" -nt "$input" ] || fresh=0
done
if [ $fresh = 1 ]; then
    echo "$archive"
    exit 0
fi

stage=$(dirname "$archive")/pack.tmp
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/models"
for tool in "${tools[@]}"; do
    cp "$bin/$tool" "$stage/bin/$tool"
    if ldd "$stage/bin/$tool" | grep -q 'libswift'; then
        log "$bin/$tool still needs the Swift runtime: $(ldd "$stage/bin/$tool" | grep libswift | tr -s ' \t' ' ' | head -n 1)"
        exit 70
    fi
done
cp -R "$model_dir" "$stage/models/all-MiniLM-L6-v2"

{
    echo "ragpipe Spark archive: what a worker needs (written by scripts/spark-pack.sh)"
    echo
    echo "built on: $(. /etc/os-release && echo "$PRETTY_NAME"), $("$SWIFT" --version 2>&1 | head -n 1)"
    echo "glibc: at least $(objdump -T "${tools[@]/#/$stage/bin/}" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1 | sed 's/GLIBC_//')" \
         "(the newest glibc symbol version the binaries use); libstdc++: $(objdump -T "${tools[@]/#/$stage/bin/}" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -n 1)"
    echo
    echo "linked (ldd, every binary):"
    for tool in "${tools[@]}"; do readelf -d "$stage/bin/$tool" | sed -nE 's/.*Shared library: \[(.*)\]/\1/p'; done | sort -u | sed 's/^/  /'
    echo "  (Debian 12: libc6 libstdc++6 libgcc-s1 zlib1g libxml2; libxml2 brings libicu72 and liblzma5)"
    echo
    echo "opened with dlopen when the encoder runs (embed --embedder minilm):"
    echo "  libopenblas.so.0  (Debian: libopenblas0; required)"
    echo "  libdnnl.so.2      (Debian: libdnnl2; without it the encoder runs fp32 on OpenBLAS, slower,"
    echo "                     and its vectors are not bit-identical to oneDNN's)"
    echo "run as a program: pdftotext (Debian: poppler-utils) for PDF inputs only"
    echo "no Swift toolchain, no Python packages, no network"
    echo
    echo "query (for a serving machine) finds the model with RAGPIPE_MODELS=THIS_FOLDER/models"
} > "$stage/WORKER.txt"

# The packed tools on three documents with nothing of the toolchain reachable.
smoke=$stage.smoke
rm -rf "$smoke" && mkdir -p "$smoke"
{ gunzip -c data/scifact/corpus.jsonl.gz || true; } | head -n 3 > "$smoke/docs.jsonl"  # gunzip dies of SIGPIPE
root=$(cd "$stage" && pwd)
env -i PATH=/usr/bin:/bin HOME="$smoke" bash -o pipefail -c '
    command -v swift >/dev/null && { echo "swift is on PATH=$PATH" >&2; exit 70; }
    "$1/bin/chunk" --format beir --model "$1/models/all-MiniLM-L6-v2" "$2/docs.jsonl" \
      | "$1/bin/embed" --model "$1/models/all-MiniLM-L6-v2" | "$1/bin/build-index" -o "$2/smoke.ragx"
    RAGPIPE_MODELS="$1/models" "$1/bin/query" --json -k 1 "$2/smoke.ragx" "What do the documents say?" >/dev/null
' smoke "$root" "$smoke" 2> "$smoke/log" || { cat "$smoke/log" >&2; log "the packed tools failed under env -i"; exit 70; }
sed 's/^/spark-pack: env -i: /' "$smoke/log" >&2
rm -rf "$smoke"

# Entries are bin/…, models/…, WORKER.txt (no ./: Spark refuses an archive entry outside its folder).
tar -C "$stage" -cf "$archive.partial" bin models WORKER.txt
mv -f "$archive.partial" "$archive"
rm -rf "$stage"
log "$archive ($(du -h "$archive" | cut -f1)): ship it with --archives $archive#ragpipe"
echo "$archive"
