#!/usr/bin/env bash
# The measurements of docs/SPARK.md: embed throughput (records/s, tokens/s), the Spark driver on
# local[2] against the plain pipe on the same documents (start-up, per partition), shard sizes,
# and query latency and peak RSS over 1, 4 and 16 shards of the same chunks.
#
#   bench/spark_measure.sh WORK [DOCS]     (make spark-pack and scripts/spark-venv.sh first)
#
# DOCS (default 500): SciFact documents for the MiniLM runs; the hash-embedder runs take all
# 5,183, so Spark's own costs are not hidden behind the encoder's.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?usage: $0 WORK [DOCS]}
docs=${2:-500}
pack=$PWD/.build/spark/ragpipe-spark.tar
python=$(scripts/spark-venv.sh)
driver=$PWD/spark/ragpipe_spark.py
mkdir -p "$work" && cd "$work"
rm -rf tools && mkdir tools && tar -xf "$pack" -C tools
T=$PWD/tools M=$PWD/tools/models/all-MiniLM-L6-v2
export RAGPIPE_MODELS=$T/models

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
{ gunzip -c "$OLDPWD/data/scifact/corpus.jsonl.gz" || true; } > all.jsonl
{ head -n "$docs" all.jsonl || true; } > docs.jsonl
gunzip -c "$OLDPWD/data/scifact/queries.jsonl.gz" | python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in list(sys.stdin)[:200]]' > questions.txt

seconds() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$1"; }
now() { python3 -c 'import time; print(time.time())'; }

echo "== embed throughput, $docs SciFact documents (MiniLM fp32)"
"$T/bin/chunk" --format beir --model "$M" docs.jsonl > chunks.jsonl 2>/dev/null
python3 -c 'import json,sys
n=t=0
for l in open("chunks.jsonl"):
    o=json.loads(l)
    if "end_of_stream" in o: continue
    n+=1; t+=o["tokens"]
print(f"chunks {n}, tokens {t} (mean {t/n:.1f} per chunk, [CLS]/[SEP] included)")' | tee tokens.txt
tokens=$(sed -nE 's/.*tokens ([0-9]+) .*/\1/p' tokens.txt)
for threads in 1 2; do
    start=$(now)
    "$T/bin/embed" --model "$M" --threads $threads chunks.jsonl 2> embed-$threads.log > embedded-$threads.jsonl
    s=$(seconds "$start")
    echo "embed --threads $threads: $(cat embed-$threads.log); wall $s s, $(python3 -c "print(f'{$tokens/$s:.0f}')") tokens/s"
done
cmp <(grep -v end_of_stream embedded-1.jsonl) <(grep -v end_of_stream embedded-2.jsonl) && echo "vectors of --threads 1 and 2: identical bytes"

echo "== plain pipe against Spark local[2], the same $docs documents (MiniLM)"
start=$(now)
"$T/bin/chunk" --format beir --model "$M" docs.jsonl 2>/dev/null | "$T/bin/embed" --model "$M" 2>/dev/null | "$T/bin/build-index" -o plain.ragx 2>/dev/null
echo "plain chunk | embed --threads 2 | build-index: $(seconds "$start") s"
for p in 2 4; do
    rm -rf spark-minilm-$p
    start=$(now)
    "$python" "$driver" --master 'local[2]' --archives "$pack#ragpipe" --input docs.jsonl --partitions $p --out spark-minilm-$p 2> spark-minilm-$p.log
    echo "spark local[2], $p partitions (embed --threads 1 per task): wall $(seconds "$start") s; $(grep '^ragpipe-spark: ' spark-minilm-$p.log | tail -n 1 | sed 's/^ragpipe-spark: //')"
done

echo "== plain pipe against Spark local[2], all 5,183 documents, hash embedder (Spark's own costs)"
start=$(now)
"$T/bin/chunk" --format beir --model "$M" all.jsonl 2>/dev/null | "$T/bin/embed" --embedder hash 2>/dev/null > all-hash.jsonl
"$T/bin/build-index" -o plain-hash.ragx all-hash.jsonl 2>/dev/null
echo "plain chunk | embed --embedder hash | build-index: $(seconds "$start") s"
for p in 1 4 16; do
    rm -rf spark-hash-$p
    start=$(now)
    "$python" "$driver" --master 'local[2]' --archives "$pack#ragpipe" --input all.jsonl --partitions $p --out spark-hash-$p --embedder hash 2> spark-hash-$p.log
    echo "spark local[2], $p partitions: wall $(seconds "$start") s; $(grep '^ragpipe-spark: ' spark-hash-$p.log | tail -n 1 | sed 's/^ragpipe-spark: //')"
done
rm -rf spark-ivf-16
"$python" "$driver" --master 'local[2]' --archives "$pack#ragpipe" --input all.jsonl --partitions 16 --out spark-ivf-16 --embedder hash --kind ivf --codes sq8 2> spark-ivf-16.log
echo "spark local[2], 16 partitions, IVF sq8: $(grep '^ragpipe-spark: ' spark-ivf-16.log | tail -n 1 | sed 's/^ragpipe-spark: //')"

echo "== storage (all 5,183 documents; bytes per chunk)"
for set in spark-hash-1 spark-hash-16 spark-ivf-16; do
    python3 - "$set" <<'EOF'
import json, os, sys
folder = sys.argv[1]
m = json.load(open(os.path.join(folder, "manifest.json")))
sizes = [s["size"] for s in m["shards"]]
parts = sum(os.path.getsize(os.path.join(folder, "parts", f)) for f in os.listdir(os.path.join(folder, "parts")))
print(f"{folder}: {len(sizes)} shards, {m['count']} chunks, shards {sum(sizes)/1e6:.2f} MB ({sum(sizes)/m['count']:.0f} B/chunk), "
      f"largest shard {max(sizes)/1e6:.2f} MB; part files {parts/1e6:.2f} MB ({parts/m['count']:.0f} B/chunk)")
EOF
done

echo "== query over 1, 4 and 16 shards of the same 9,892 chunks (200 questions, one process, hash embedder)"
for set in spark-hash-1 spark-hash-4 spark-hash-16 spark-ivf-16; do
    for mode in dense hybrid; do
        /usr/bin/time -f '%M' -o rss.txt "$T/bin/query" --json -k 10 --mode $mode "$set/manifest.json" < questions.txt > q.jsonl 2> q.log
        python3 - "$set" "$mode" "$(cat rss.txt)" <<'EOF'
import json, statistics, sys
rows = [json.loads(l)["timings_ms"] for l in open("q.jsonl")]
search = sorted(r["search"] for r in rows)
total = sorted(r["total"] for r in rows)
p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f"{sys.argv[1]} {sys.argv[2]}: search median {statistics.median(search):.2f} ms, p95 {p(search, .95):.2f} ms; "
      f"total median {statistics.median(total):.2f} ms; peak RSS {int(sys.argv[3])/1024:.0f} MB")
EOF
    done
done
echo "== MiniLM queries over the $docs-document sets (1 index against 4 shards)"
for index in plain.ragx spark-minilm-4/manifest.json; do
    /usr/bin/time -f '%M' -o rss.txt "$T/bin/query" --json -k 10 --mode hybrid "$index" < questions.txt > q.jsonl 2> q.log
    python3 - "$index" "$(cat rss.txt)" <<'EOF'
import json, statistics, sys
rows = [json.loads(l)["timings_ms"] for l in open("q.jsonl")]
print(f"{sys.argv[1]} hybrid: embed median {statistics.median(r['embed'] for r in rows):.2f} ms, search median "
      f"{statistics.median(r['search'] for r in rows):.2f} ms, total median {statistics.median(r['total'] for r in rows):.2f} ms; peak RSS {int(sys.argv[2])/1024:.0f} MB")
EOF
done
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
