"""FAISS on the vectors ragpipe's IVF benchmark uses, for same-run comparisons (`make bench-faiss`).

usage: faiss_ivf.py BASE.npy QUERIES.npy NLIST TRAIN_POINTS NPROBES
Prints one tab-separated line per configuration: a label, then the measured figures.
Single thread, k=10, inner product on unit vectors, recall@10 against exact search.
"""
import sys, time, os, tempfile
import numpy as np
import faiss

faiss.omp_set_num_threads(1)
base = np.load(sys.argv[1]).astype(np.float32)
queries = np.load(sys.argv[2]).astype(np.float32)
nlist, train_points = int(sys.argv[3]), int(sys.argv[4])
nprobes = [int(x) for x in sys.argv[5].split(",")]
faiss.normalize_L2(base)
faiss.normalize_L2(queries)
n, d = base.shape
k = 10

flat = faiss.IndexFlatIP(d)
flat.add(base)
t = time.perf_counter(); _, truth = flat.search(queries, k); batched = len(queries) / (time.perf_counter() - t)
t = time.perf_counter()
for q in queries[:200]:
    flat.search(q[None, :], k)
single = 200 / (time.perf_counter() - t)
print(f"Flat(IP) {n} x {d}\t{single:.0f} QPS one query at a time, {batched:.0f} QPS batched")
truth_sets = [set(row) for row in truth]

rng = np.random.default_rng(1)
sample = base[rng.choice(n, size=min(n, train_points), replace=False)]
for spec in [f"IVF{nlist},SQ8"] + ([f"IVF{nlist},Flat"] if n <= 200_000 else []):
    index = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter(); index.train(sample); train = time.perf_counter() - t
    t = time.perf_counter(); index.add(base); add = time.perf_counter() - t
    fd, path = tempfile.mkstemp(suffix=".faiss"); os.close(fd)
    faiss.write_index(index, path)
    size = os.path.getsize(path)
    t = time.perf_counter(); faiss.read_index(path); read = time.perf_counter() - t
    os.unlink(path)
    parts = []
    for nprobe in nprobes:
        if nprobe > nlist:
            continue
        index.nprobe = nprobe
        t = time.perf_counter(); _, ids = index.search(queries, k); batched = len(queries) / (time.perf_counter() - t)
        t = time.perf_counter()
        for q in queries:
            index.search(q[None, :], k)
        single = len(queries) / (time.perf_counter() - t)
        recall = sum(len(truth_sets[i] & set(ids[i])) for i in range(len(queries))) / (k * len(queries))
        parts.append(f"nprobe {nprobe}: recall {recall:.3f} at {single:.0f} QPS one at a time, {batched:.0f} batched")
    print(f"{spec} (train on {len(sample)} points)\ttrain {train:.2f} s + add {add:.2f} s; file {size / 1e6:.1f} MB; read_index {read * 1000:.1f} ms; " + "; ".join(parts))
