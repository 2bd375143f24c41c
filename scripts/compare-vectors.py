#!/usr/bin/env python3
"""Per-vector cosine of embedded streams against a reference stream (same records, same order).

usage: compare-vectors.py REFERENCE.jsonl OTHER.jsonl [OTHER.jsonl ...]

Each file is `embed --format jsonl` output: one JSON object per line with "id" (or "text") and
"embedding"; end-of-stream lines (no "embedding") are skipped. Prints, per OTHER, the record
count, min / mean cosine to REFERENCE and how many fall below 0.995. Exit 1 when the records do
not line up. Standard library only.
"""
import json
import math
import sys


def vectors(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            record = json.loads(line)
            if "embedding" not in record:
                continue
            out.append((record.get("id", record.get("text")), record["embedding"], record.get("model")))
    return out


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    reference = vectors(argv[1])
    for path in argv[2:]:
        other = vectors(path)
        if len(other) != len(reference) or any(a[0] != b[0] for a, b in zip(reference, other)):
            print(f"compare-vectors: {path} does not hold the records of {argv[1]} in order", file=sys.stderr)
            return 1
        cosines = []
        for (_, a, _), (_, b, _) in zip(reference, other):
            dot = sum(x * y for x, y in zip(a, b))
            cosines.append(dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)))
        below = sum(1 for c in cosines if c < 0.995)
        print(f"{other[0][2]} vs {reference[0][2]}: {len(cosines)} vectors, min cosine {min(cosines):.5f}, "
              f"mean {sum(cosines) / len(cosines):.5f}, {below} below 0.995")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
