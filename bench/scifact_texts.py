"""The benchmark's texts: the first N SciFact documents, title + " " + text, one per line.

usage: scifact_texts.py CORPUS.jsonl.gz N > texts.txt
Line breaks inside a document become spaces, since a line break is what separates texts; nothing else
is changed, so every embedder (ragpipe's and the peers) tokenizes exactly the same strings.
"""
import gzip
import json
import sys

path, n = sys.argv[1], int(sys.argv[2])
written = 0
with gzip.open(path, "rt", encoding="utf-8") as f, \
        open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n", closefd=False) as out:
    for line in f:
        if written == n:
            break
        doc = json.loads(line)
        text = doc["title"] + " " + doc["text"]
        out.write(text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ") + "\n")
        written += 1
if written < n:
    sys.exit(f"scifact_texts: {path} has only {written} documents, {n} asked for")
