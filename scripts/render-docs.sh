#!/usr/bin/env bash
# Renders this project's own Markdown to HTML and PDF with Debian tools, so that corpus/ holds real
# converted documents and no third-party content:
#
#   scripts/render-docs.sh corpus       README.md → corpus/ragpipe/readme.html,
#                                       docs/ARCHITECTURE.md → corpus/ragpipe/architecture.pdf
#   scripts/render-docs.sh readme DIR   README.md → DIR/README.md (a copy), DIR/readme.html, DIR/readme.pdf,
#                                       DIR/readme.docx (what scripts/eval-formats.sh compares)
#   scripts/render-docs.sh pages N DIR  README.md and docs/*.md, N times over, → DIR/pages.pdf and
#                                       DIR/pages.html (a few hundred pages for the extraction throughput)
#
# HTML: pandoc (standalone, HTML5). DOCX: pandoc. PDF: pandoc to groff ms, then groff's gropdf, in Times (a base
# PDF font, so none is embedded and the files stay small). Needs: apt-get install pandoc groff ghostscript
# (ghostscript brings the fonts gropdf reads). The outputs are committed; only this script needs the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in pandoc groff; do
    command -v "$tool" >/dev/null || { echo "render-docs: $tool not found; run: apt-get install pandoc groff ghostscript" >&2; exit 69; }
done

html() { pandoc --standalone --from gfm --to html5 --metadata title="$2" "$1" -o "$3"; }
pdf() {
    # groff warns (a glyph it lacks, e.g. ✔; a table cell it cannot break) and writes the PDF anyway:
    # its warnings are left out.
    pandoc --standalone --from gfm --to ms -V fontfamily=T --metadata title="$2" "$1" \
        | groff -t -ms -k -Tpdf 2> >(grep -vE 'warning|transparently output node|table wider than line width' >&2 || true) \
        | LC_ALL=C sed -E 's/\/(CreationDate|ModDate) \(D:[0-9]{14}/\/\1 (D:20000101000000/' > "$3.tmp"
    # gropdf stamps the time (it ignores SOURCE_DATE_EPOCH); the same length keeps the xref offsets
    # right, and the same source then gives the same bytes.
    mv -f "$3.tmp" "$3"
}

case "${1:-}" in
    corpus)
        html README.md "ragpipe README" corpus/ragpipe/readme.html
        pdf docs/ARCHITECTURE.md "ragpipe architecture" corpus/ragpipe/architecture.pdf
        ;;
    readme)
        dir=${2:?usage: $0 readme DIR}
        mkdir -p "$dir"
        cp README.md "$dir/README.md"
        html README.md "ragpipe README" "$dir/readme.html"
        pdf README.md "ragpipe README" "$dir/readme.pdf"
        pandoc --from gfm --metadata title="ragpipe README" README.md -o "$dir/readme.docx"
        ;;
    pages)
        n=${2:?usage: $0 pages N DIR} dir=${3:?usage: $0 pages N DIR}
        mkdir -p "$dir"
        for _ in $(seq "$n"); do cat README.md docs/*.md; done > "$dir/pages.md"
        pdf "$dir/pages.md" "ragpipe docs" "$dir/pages.pdf"
        html "$dir/pages.md" "ragpipe docs" "$dir/pages.html"
        ;;
    *) echo "usage: $0 corpus | readme DIR | pages N DIR" >&2; exit 64 ;;
esac
