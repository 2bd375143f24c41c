#!/usr/bin/env python3
"""build-index --codes rabitq against --codes sq8 through the tools (docs/bench/rabitq-study.md):
one `query --npy` process per index, setting and pass, the processes of both indexes
interleaved; QPS from the process's CPU time (user + system: the machine is shared), best of
--passes; recall@10 against the exact top-10 that truth.py wrote.

  codec_vs_sq8.py QUERY_BINARY QUERIES.npy TRUTH.i32 TRUTH_FIRST --index NAME=FILE ... --nprobes 32,48,64
"""
import argparse, os, resource, subprocess, sys, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("query"); p.add_argument("queries"); p.add_argument("truth"); p.add_argument("truth_first", type=int)
p.add_argument("--index", action="append", required=True)
p.add_argument("--nprobes", default="32,48,64,96")
p.add_argument("--passes", type=int, default=3)
a = p.parse_args()
n = np.load(a.queries, mmap_mode="r").shape[0]
truth = np.fromfile(a.truth, dtype=np.int32).reshape(-1, 10)[a.truth_first:a.truth_first + n]
indexes = [s.split("=", 1) for s in a.index]

def run(path, nprobe):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([a.query, "--npy", a.queries, "-k", "10", "--nprobe", str(nprobe), path],
                         capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"codec_vs_sq8: {path}: {out.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = 0
    for line in out.stdout.splitlines():
        i, hits = line.split(":", 1)
        rows = {int(h.split(":")[0]) for h in hits.split()}
        found += len(rows & set(truth[int(i)].tolist()))
    return found / (10 * n), n / cpu

for nprobe in [int(x) for x in a.nprobes.split(",")]:
    best = {name: (0.0, 0.0) for name, _ in indexes}
    for _ in range(a.passes):
        for name, path in indexes:
            r, qps = run(path, nprobe)
            best[name] = (r, max(best[name][1], qps))
    print(f"nprobe {nprobe:4d}  " + "  |  ".join(f"{name}: recall {r:.3f} at {q:,.0f} QPS" for name, (r, q) in best.items()), flush=True)
