"""FAISS IVF-SQ8 and hnswlib on the very vectors ragpipe's IVF benchmark indexes, in the same run.

usage: ann_peers.py --base BASE.npy --queries NAME=QUERIES.npy [--queries ...] --nlist N
                    --train-points T --nprobes 16,32,... --efs 10,20,... [--hnsw-max-count N]
                    [--hnsw-threads 1] [--build-threads 1] [--flat-ivf]

Searches run on one thread (faiss.omp_set_num_threads(1), hnswlib set_num_threads(1)), builds on --build-threads; k = 10,
inner product on unit vectors; recall@10 is against exact search by numpy brute force (float32
matrix product, top 10 by argpartition) on the same .npy files. QPS: one query at a time (a
1-row search call per query, the loop in Python), the best of --repeats passes; batched QPS (all
queries in one call, still one thread) beside it.

Prints tab-separated lines, read by ragpipe-bench:
  row    LABEL    TEXT                                  a row of the table
  point  PEER     QUERYSET  PARAM  RECALL  QPS  BATCHED one point of a sweep (PEER: faiss, hnswlib)
  build  PEER     SECONDS   BYTES                        build time (FAISS train + add; hnswlib add_items) and file size
"""
import argparse, os, resource, sys, tempfile, time
import numpy as np


def log(s):
    print("ann_peers: " + s, file=sys.stderr, flush=True)


def exact_top10(base, queries, k=10):
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), 256):
        scores = queries[s:s + 256] @ base.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        out[s:s + 256] = part
    return [set(r.tolist()) for r in out]


def recall(truth, ids, k=10):
    return sum(len(truth[i] & set(int(x) for x in ids[i][:k])) for i in range(len(truth))) / (k * len(truth))


def batched(search, queries, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        ids = search(queries)
        best = min(best, time.perf_counter() - t)
    return len(queries) / best, ids


def one_at_a_time(search, queries, repeats):
    best = float("inf")
    ids = None
    for _ in range(repeats):
        rows = []
        t = time.perf_counter()
        for q in queries:
            rows.append(search(q[None, :]))
        best = min(best, time.perf_counter() - t)
        ids = rows
    return len(queries) / best, [r[0] for r in ids]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", action="append", required=True, help="NAME=PATH.npy")
    ap.add_argument("--nlist", type=int, required=True)
    ap.add_argument("--train-points", type=int, required=True)
    ap.add_argument("--nprobes", default="16,32,64,128")
    ap.add_argument("--efs", default="10,20,40,80,160,320")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hnsw-max-count", type=int, default=200_000,
                    help="skip hnswlib above this many base vectors (its M16/efC200 build is slow)")
    ap.add_argument("--hnsw-threads", type=int, default=1, help="threads for hnswlib's build only; search is always 1")
    ap.add_argument("--build-threads", type=int, default=1,
                    help="threads for FAISS's train + add (as many as build-index uses, for a fair build time); search is always 1")
    ap.add_argument("--flat-ivf", action="store_true", help="also IVF{nlist},Flat")
    a = ap.parse_args()

    import faiss
    faiss.omp_set_num_threads(1)
    base = np.ascontiguousarray(np.load(a.base).astype(np.float32))
    faiss.normalize_L2(base)
    n, d = base.shape
    sets = []
    for spec in a.queries:
        name, path = spec.split("=", 1)
        q = np.ascontiguousarray(np.load(path).astype(np.float32))
        faiss.normalize_L2(q)
        sets.append((name, q))
    k = 10
    log(f"exact top-{k} by numpy for {', '.join(f'{nm} ({len(q)})' for nm, q in sets)} over {n} x {d}")
    truths = {name: exact_top10(base, q) for name, q in sets}
    nprobes = [int(x) for x in a.nprobes.split(",") if int(x) <= a.nlist]
    efs = [int(x) for x in a.efs.split(",")]

    # FAISS IVF, the same nlist and training-sample size as ragpipe's default.
    rng = np.random.default_rng(1)
    sample = base[rng.choice(n, size=min(n, a.train_points), replace=False)]
    specs = [f"IVF{a.nlist},SQ8"] + ([f"IVF{a.nlist},Flat"] if a.flat_ivf else [])
    for spec in specs:
        log(f"FAISS {spec}: train on {len(sample)} points, add {n}")
        index = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
        faiss.omp_set_num_threads(a.build_threads)
        t = time.perf_counter(); index.train(sample); train = time.perf_counter() - t
        t = time.perf_counter(); index.add(base); add = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        fd, path = tempfile.mkstemp(suffix=".faiss"); os.close(fd)
        faiss.write_index(index, path)
        size = os.path.getsize(path)
        t = time.perf_counter(); faiss.read_index(path); read = time.perf_counter() - t
        os.unlink(path)
        peer = "faiss" if spec.endswith("SQ8") else "faiss-flat"
        print(f"build\t{peer}\t{train + add:.3f}\t{size}", flush=True)
        print(f"row\tFAISS {faiss.__version__} {spec}, build ({a.build_threads} thread{'s' if a.build_threads > 1 else ''})\ttrain {train:.2f} s + add {add:.2f} s = {train + add:.2f} s "
              f"(train on {len(sample)} points); file {size / 1e6:.1f} MB (vectors only, no texts); read_index {read * 1000:.1f} ms", flush=True)
        for name, q in sets:
            parts = []
            for nprobe in nprobes:
                index.nprobe = nprobe
                many, ids = batched(lambda x: index.search(x, k)[1], q, a.repeats)
                single, _ = one_at_a_time(lambda x: index.search(x, k)[1], q, a.repeats)
                r = recall(truths[name], ids)
                print(f"point\t{peer}\t{name}\t{nprobe}\t{r:.4f}\t{single:.1f}\t{many:.1f}", flush=True)
                parts.append(f"nprobe {nprobe}: recall {r:.3f} at {single:.0f} QPS ({many:.0f} batched)")
            print(f"row\tFAISS {spec}, {name} queries, k=10, 1 thread, one query at a time\t" + "; ".join(parts), flush=True)
        del index

    # hnswlib, M 16, ef_construction 200, inner product.
    import hnswlib
    if n > a.hnsw_max_count:
        print(f"row\thnswlib {hnswlib.__version__ if hasattr(hnswlib, '__version__') else '0.8.0'} M16 ef_construction 200\t"
              f"skipped: {n} vectors > --hnsw-max-count {a.hnsw_max_count} (an M16/efC200 build of this size takes too long for this run)", flush=True)
        return
    from importlib.metadata import version
    hv = version("hnswlib")
    log(f"hnswlib {hv}: add_items {n} (M 16, ef_construction 200, {a.hnsw_threads} build thread(s))")
    index = hnswlib.Index(space="ip", dim=d)
    index.init_index(max_elements=n, ef_construction=200, M=16, random_seed=100)
    index.set_num_threads(a.hnsw_threads)
    t = time.perf_counter(); index.add_items(base, np.arange(n)); build = time.perf_counter() - t
    index.set_num_threads(1)
    fd, path = tempfile.mkstemp(suffix=".hnsw"); os.close(fd)
    index.save_index(path)
    size = os.path.getsize(path)
    os.unlink(path)
    print(f"build\thnswlib\t{build:.3f}\t{size}", flush=True)
    print(f"row\thnswlib {hv} M16 ef_construction 200, build\tadd_items {build:.2f} s ({a.hnsw_threads} thread{'s' if a.hnsw_threads > 1 else ''}); "
          f"file {size / 1e6:.1f} MB (vectors fp32 + graph, held in RAM to search)", flush=True)
    for name, q in sets:
        parts = []
        for ef in efs:
            index.set_ef(ef)
            many, ids = batched(lambda x: index.knn_query(x, k=k, num_threads=1)[0], q, a.repeats)
            single, _ = one_at_a_time(lambda x: index.knn_query(x, k=k, num_threads=1)[0], q, a.repeats)
            r = recall(truths[name], ids)
            print(f"point\thnswlib\t{name}\t{ef}\t{r:.4f}\t{single:.1f}\t{many:.1f}", flush=True)
            parts.append(f"ef {ef}: recall {r:.3f} at {single:.0f} QPS ({many:.0f} batched)")
        print(f"row\thnswlib M16 efC200, {name} queries, k=10, 1 thread, one query at a time\t" + "; ".join(parts), flush=True)
    log(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
