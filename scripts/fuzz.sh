#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of every parser of untrusted input.
#   scripts/fuzz.sh build                 build .build/fuzz/ragpipe-fuzz (once per source change)
#   scripts/fuzz.sh run TARGET SECONDS    fuzz one target from its seed corpus
#   scripts/fuzz.sh all SECONDS           every target in turn, a summary line each
# Targets: index jsonl npy safetensors config beir-queries qrels squad html pdf-text docx shard-files. Seeds: Tests/Fuzz/seeds/TARGET;
# inputs found are kept in .build/fuzz/corpus/TARGET, crashes in .build/fuzz/crashes/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build/fuzz
BIN=${FUZZ_BIN:-$OUT/ragpipe-fuzz}
TARGETS=(index jsonl npy safetensors config beir-queries qrels squad html pdf-text docx shard-files)

build() {
    mkdir -p "$OUT/CKernels"
    # CKernels as SwiftPM builds it, instrumented for coverage and ASan like the Swift code.
    # Every public header, as SwiftPM's umbrella directory takes them all.
    {
        echo "module CKernels {"
        for h in "$PWD"/Sources/CKernels/include/*.h; do echo "    header \"$h\""; done
        echo "    export *"
        echo "}"
    } > "$OUT/CKernels/module.modulemap"
    local objects=() c
    for c in Sources/CKernels/*.c; do
        clang -O2 -fsanitize=fuzzer-no-link,address -c "$c" -I Sources/CKernels/include -o "$OUT/$(basename "$c" .c).o"
        objects+=("$OUT/$(basename "$c" .c).o")
    done
    # The layers are separate modules under SwiftPM; here they compile as one module (ASan and
    # coverage need no module boundaries), so their imports of each other are dropped.
    rm -rf "$OUT/sources"; mkdir -p "$OUT/sources"
    local f
    while IFS= read -r f; do
        sed -E '/^(@testable )?import RagPipe[A-Za-z]+$/d' "$f" > "$OUT/sources/$(echo "${f#Sources/RagPipe/}" | tr / _)"
    done < <(find Sources/RagPipe -name '*.swift' | LC_ALL=C sort)
    mapfile -t sources < <(find "$OUT/sources" -name '*.swift' | LC_ALL=C sort)
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name RagPipe -package-name ragpipe \
        -I Sources/CZlib -I Sources/CBLAS -I Sources/CLibXML2 -I "$OUT/CKernels" \
        $(pkg-config --cflags libxml-2.0 | sed -E 's/(^| )-I/\1-Xcc -I/g') \
        "${sources[@]}" Tests/Fuzz/FuzzMain.swift "${objects[@]}" -lz -lxml2 -ldl -o "$BIN" 2>&1 |
        { grep -v "Cannot export local symbol '__asan" || true; }    # gold's harmless notes on ASan's own symbols
    test -x "$BIN"
}

run() {
    local target=$1 seconds=$2
    mkdir -p "$OUT/corpus/$target" "$OUT/crashes/$target"
    # The Swift backtracer would catch a trap before libFuzzer does (and trip ASan reading memory).
    SWIFT_BACKTRACE=enable=no RAGPIPE_FUZZ_TARGET=$target "$BIN" -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 \
        -artifact_prefix="$OUT/crashes/$target/" "$OUT/corpus/$target" "Tests/Fuzz/seeds/$target" 2>"$OUT/$target.log" || {
        echo "fuzz $target: FAILED (crash input in $OUT/crashes/$target/, log $OUT/$target.log)"; tail -n 40 "$OUT/$target.log"; return 1; }
    local runs cov ft rate
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$target.log" | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$OUT/$target.log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$target.log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$OUT/$target.log" | tail -1 | grep -o '[0-9]*')
    echo "fuzz $target: $runs executions in ${seconds} s ($rate/s), coverage $cov edges, $ft features, corpus $(ls "$OUT/corpus/$target" | wc -l) inputs, no crash"
}

case "${1:-}" in
    build) build ;;
    run) run "$2" "$3" ;;
    all) failed=0; for t in "${TARGETS[@]}"; do run "$t" "$2" || failed=$((failed + 1)); done
         echo "fuzz: $(( ${#TARGETS[@]} - failed )) passed, $failed failed"; [ "$failed" -eq 0 ] ;;
    *) echo "usage: $0 build | run TARGET SECONDS | all SECONDS" >&2; exit 64 ;;
esac
