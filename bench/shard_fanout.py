#!/usr/bin/env python3
"""Fan-out query latency against the number of shards at equal total size (issue 17).

    bench/shard_fanout.py [--rows 200000] [--dim 384] [--shards 1,4,16] [--kind ivf --codes sq8]

Synthetic clustered unit vectors (seeded numpy; the same structure as SyntheticVectors: cluster
centres plus Gaussian noise, normalized), one `build-index --train-only --npy` over all rows, then
for each shard count S the rows cut into S consecutive parts, each built with `--centroids` and
named by one `build-index --manifest`. Every set answers the same 1,000 held-out query vectors
with `query --npy -k 10 MANIFEST`; the script checks that every set's hits (rows and scores) are
the 1-shard set's, then times it: the wall time of the 1,000 queries minus that of one query
(process start, opening every shard), over 999, best of --repeats; and the one-query run alone.
Prints a Markdown table. Needs the release build (.build/release) and numpy.
"""
import argparse, os, subprocess, sys, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--rows", type=int, default=200_000)
p.add_argument("--dim", type=int, default=384)
p.add_argument("--clusters", type=int, default=1000)
p.add_argument("--queries", type=int, default=1000)
p.add_argument("--shards", default="1,4,16")
p.add_argument("--kind", default="ivf")
p.add_argument("--codes", default="sq8")
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--bin", default=".build/release")
p.add_argument("--work", default=".build/bench-data/shards")
a = p.parse_args()
counts = [int(s) for s in a.shards.split(",")]
os.makedirs(a.work, exist_ok=True)


def run(*args, quiet=True):
    r = subprocess.run([os.path.join(a.bin, args[0]), *args[1:]], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)}: exit {r.returncode}\n{r.stderr}")
    if not quiet: print(r.stderr.strip().splitlines()[-1], file=sys.stderr)
    return r.stdout


rng = np.random.default_rng(17)
centres = rng.standard_normal((a.clusters, a.dim)).astype(np.float32)
centres /= np.linalg.norm(centres, axis=1, keepdims=True)
def points(n):
    x = centres[rng.integers(0, a.clusters, n)] + 0.35 * rng.standard_normal((n, a.dim)).astype(np.float32) / np.sqrt(a.dim) * 4
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
base = points(a.rows)
queries = points(a.queries)
np.save(f"{a.work}/base.npy", base)
np.save(f"{a.work}/queries.npy", queries)
np.save(f"{a.work}/one.npy", queries[:1])

t = time.perf_counter()
run("build-index", "--train-only", "--npy", f"{a.work}/base.npy", "--kind", a.kind, "--codes", a.codes, "-o", f"{a.work}/trained.ragq", quiet=False)
print(f"train-only: {time.perf_counter() - t:.1f} s", file=sys.stderr)

results, rows = {}, []
for s in counts:
    folder = f"{a.work}/{s}"
    os.makedirs(folder, exist_ok=True)
    shards = []
    for i in range(s):
        lo, hi = i * a.rows // s, (i + 1) * a.rows // s
        np.save(f"{folder}/part-{i}.npy", base[lo:hi])
        run("build-index", "--npy", f"{folder}/part-{i}.npy", "--centroids", f"{a.work}/trained.ragq", "-o", f"{folder}/shard-{i}.ragx")
        os.remove(f"{folder}/part-{i}.npy")
        shards.append(f"{folder}/shard-{i}.ragx")
    run("build-index", "--manifest", "-o", f"{folder}/shards.json", *shards)
    results[s] = run("query", "--npy", f"{a.work}/queries.npy", "-k", "10", f"{folder}/shards.json")
    if results[s] != results[counts[0]]:
        sys.exit(f"{s} shards: hits differ from {counts[0]} shard(s)")
    def wall(npy):
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            run("query", "--npy", npy, "-k", "10", f"{folder}/shards.json")
            best = min(best, time.perf_counter() - t)
        return best
    one, many = wall(f"{a.work}/one.npy"), wall(f"{a.work}/queries.npy")
    per_query = (many - one) / (a.queries - 1) * 1000
    size = sum(os.path.getsize(x) for x in shards)
    rows.append((s, a.rows // s, size / 1e6, per_query, one * 1000))
    print(f"{s} shards: {per_query:.3f} ms/query, open + 1 query {one * 1000:.1f} ms", file=sys.stderr)

meta = open(f"{a.work}/trained.ragq", "rb").read()
nprobe = meta[meta.find(b'"nprobe":') + 9:].split(b",")[0].decode()
nlist = meta[meta.find(b'"nlist":') + 8:].split(b",")[0].decode()
print(f"\n{a.rows:,} × {a.dim} synthetic clustered vectors, {a.kind} {a.codes}, {nlist} lists, nprobe {nprobe} (trained once), "
      f"{a.queries:,} held-out query vectors, `query --npy -k 10` (shards searched one after another in one thread); "
      f"every set's hits identical to the 1-shard set's\n")
print("| shards | rows per shard | files (MB) | ms per query | process start + open + 1 query (ms) |")
print("|---:|---:|---:|---:|---:|")
for s, per, mb, ms, one in rows:
    print(f"| {s} | {per:,} | {mb:.1f} | {ms:.3f} | {one:.1f} |")
