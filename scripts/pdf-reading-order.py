#!/usr/bin/env python3
"""Which pdftotext mode keeps reading order: README.md typeset by groff (pandoc → ms → gropdf) in
one column and in two, read back by pdftotext's default mode, -raw and -layout, each as is and
with line-end hyphens joined. Score: the share of 8-word runs of the Markdown's prose paragraphs
(code, tables and headings left out) found in the extracted words in order. PDFExtractor uses
-raw and joins hyphens; this is the measurement behind that choice.

  python3 scripts/pdf-reading-order.py [WORK_DIR]      (needs pandoc, groff, ghostscript, pdftotext)
"""
import os, re, subprocess, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
work = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'index', 'reading-order')
os.makedirs(work, exist_ok=True)
readme = os.path.join(root, 'README.md')

ms = subprocess.run(['pandoc', '--standalone', '--from', 'gfm', '--to', 'ms', '-V', 'fontfamily=T',
                     '--metadata', 'title=ragpipe README', readme], check=True, capture_output=True, text=True).stdout
# Two columns: groff ms's .2C right after the title block.
lines = ms.split('\n')
first_section = next(i for i, l in enumerate(lines) if l.startswith('.SH') or l.startswith('.NH'))
two = '\n'.join(lines[:first_section] + ['.2C'] + lines[first_section:])
pdfs = {}
for name, source in (('one column', ms), ('two columns', two)):
    path = os.path.join(work, name.replace(' ', '-') + '.pdf')
    pdf = subprocess.run(['groff', '-t', '-ms', '-k', '-Tpdf'], input=source.encode(), check=True, capture_output=True).stdout
    open(path, 'wb').write(pdf)
    pdfs[name] = path

paragraphs, current, fenced = [], [], False
for line in open(readme, encoding='utf-8').read().split('\n'):
    if line.startswith('```'):
        fenced = not fenced
        continue
    if fenced or line.startswith('|') or line.startswith('#') or not line.strip():
        if current:
            paragraphs.append(' '.join(current))
            current = []
        continue
    current.append(line.strip())

def words(s):
    return re.findall(r'[a-z]{2,}', re.sub(r'[`*_\[\]()]', ' ', s.lower()))

runs = []
for p in paragraphs:
    w = words(p)
    runs += [' ' + ' '.join(w[i:i + 8]) + ' ' for i in range(0, len(w) - 7, 8)]

print(f"{'PDF':<12} {'mode':<9} {'hyphens':<8} {'runs found':>10} {'share':>6}")
for name, path in pdfs.items():
    for mode in ('default', 'raw', 'layout'):
        args = ['pdftotext', '-enc', 'UTF-8'] + ([] if mode == 'default' else ['-' + mode]) + [path, '-']
        text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        for join in (False, True):
            t = re.sub(r'([a-z])-\n([a-z])', r'\1\2', text) if join else text
            extracted = ' ' + ' '.join(words(t)) + ' '
            found = sum(r in extracted for r in runs)
            print(f"{name:<12} {mode:<9} {'joined' if join else 'as is':<8} {found:>4} / {len(runs):<4} {found / len(runs):>6.3f}")
