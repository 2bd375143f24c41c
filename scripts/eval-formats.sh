#!/usr/bin/env bash
# One document four ways: README.md, and its HTML, PDF and DOCX renderings (scripts/render-docs.sh),
# each chunked, embedded and indexed on its own; then the questions of
# docs/calibration/readme-questions.tsv against each (hit@1, hit@5, MRR@5 by answer phrase) and
# the check that every chunk's text is the extracted text at its span. `make eval-formats`.
#
#   scripts/eval-formats.sh MODEL_DIR [PAGES_REPEAT]
#
# With PAGES_REPEAT (e.g. 12), also the extraction throughput: README.md and docs/*.md that many
# times over, rendered to one PDF of a few hundred pages (and one HTML page), through chunk.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: $0 MODEL_DIR [PAGES_REPEAT]}
bin=.build/release
out=index/formats
questions=docs/calibration/readme-questions.tsv
scripts/render-docs.sh readme "$out/docs"
runs=()
for doc in README.md readme.html readme.pdf readme.docx; do
    name=${doc##*.}
    [ "$name" = md ] && name=markdown
    $bin/chunk --model "$model" "$out/docs/$doc" > "$out/$name.chunks.jsonl"
    $bin/chunk --extract "$out/docs/$doc" > "$out/$name.extracted.txt"
    python3 scripts/eval-formats.py spans "$out/$name.chunks.jsonl" "$out/$name.extracted.txt"
    $bin/embed --model "$model" --cache index/.embed-cache < "$out/$name.chunks.jsonl" | $bin/build-index -o "$out/$name.ragx" 2>/dev/null
    cut -f1 "$questions" | $bin/query --json -k 5 --min-score 0 --min-evidence=-9 "$out/$name.ragx" > "$out/$name.json"
    runs+=("$name=$out/$name.json")
done
python3 scripts/eval-formats.py retrieval "$questions" "${runs[@]}"

if [ -n "${2:-}" ]; then
    scripts/render-docs.sh pages "$2" "$out/pages"
    pages=$(pdfinfo "$out/pages/pages.pdf" | awk '/^Pages:/ {print $2}')
    bytes=$(stat -c %s "$out/pages/pages.pdf")
    rate() {
        python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); p, b = int(sys.argv[3]), int(sys.argv[4]); print(f'{sys.argv[5]}: {p} pages, {b / 1e6:.2f} MB in {s:.2f} s: {p / s:.0f} pages/s, {b / 1e6 / s:.2f} MB/s')" "$@"
    }
    for run in 1 2 3; do
        start=$(date +%s.%N)
        $bin/chunk --extract "$out/pages/pages.pdf" > /dev/null
        end=$(date +%s.%N)
        rate "$start" "$end" "$pages" "$bytes" "run $run, chunk --extract (pdftotext and the clean-up)"
        start=$(date +%s.%N)
        $bin/chunk --model "$model" "$out/pages/pages.pdf" > /dev/null 2> "$out/pages/chunk.log"
        end=$(date +%s.%N)
        rate "$start" "$end" "$pages" "$bytes" "run $run, chunk (extraction, WordPiece counts, chunk records)"
    done
    cat "$out/pages/chunk.log"
    # The same text as one HTML page.
    html_bytes=$(stat -c %s "$out/pages/pages.html")
    for run in 1 2 3; do
        start=$(date +%s.%N)
        $bin/chunk --extract "$out/pages/pages.html" > /dev/null
        end=$(date +%s.%N)
        python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); b = int(sys.argv[3]); print(f'run {sys.argv[4]}, chunk --extract of the same as HTML: {b / 1e6:.2f} MB in {s:.2f} s: {b / 1e6 / s:.1f} MB/s')" "$start" "$end" "$html_bytes" "$run"
    done
fi
