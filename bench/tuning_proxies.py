"""Which proxy queries tune IVF's nprobe so that it holds on real questions (issue 16).

A study, not part of `make bench`: it simulates probing with a numpy IVF (FAISS spherical
k-means, nlist as build-index chooses, exact fp32 scores) and compares, for each kind of proxy
query made from the collection's rows, the nprobe (and two adaptive stopping rules) calibrated
to recall@10 0.95 on the proxies with the recall that setting gives on real questions.

  python3 bench/tuning_proxies.py prepare CORPUS.jsonl QUERIES.jsonl SQUAD.json OUT/
      writes OUT/base.jsonl (SciFact minus a seeded 10% of documents), OUT/sentences.jsonl (two
      sentences of >= 6 words from each held-out document), OUT/claims.jsonl, OUT/squad-paras.jsonl
      and OUT/squad-questions.jsonl, all BEIR-style {"_id","title","text"}; then embed them:
        chunk --model M OUT/base.jsonl | embed --model M > OUT/base.emb.jsonl
        chunk --no-split --model M OUT/claims.jsonl | embed --model M > OUT/claims.emb.jsonl
        (the same for sentences, squad-paras, squad-questions)
  python3 bench/tuning_proxies.py study BASE.emb.jsonl NAME=QUERIES.emb.jsonl ...
      prints, per query set, top-1/top-10 scores and recall at fixed nprobe, then per proxy the
      calibrated parameter and the recall and cost (codes scanned) it gives on each real set.
  python3 bench/tuning_proxies.py check INDEX.ragx BASE.emb.jsonl QUERIES.emb.jsonl [QUERY_BIN]
      recall@10 of `query --npy` at the index's default nprobe against exact search over BASE
      (the stream INDEX was built from, rows in the same order).
Needs numpy, and faiss-cpu for `study` (the bench venv).
"""
import base64, json, random, re, sys
import numpy as np


def prepare(corpus, queries, squad, out):
    random.seed(7)
    docs = [json.loads(l) for l in open(corpus)]
    held = set(random.sample([d["_id"] for d in docs], len(docs) // 10))
    def write(name, rows):
        with open(f"{out}/{name}", "w") as f:
            for r in rows: f.write(json.dumps(r) + "\n")
    write("base.jsonl", [d for d in docs if d["_id"] not in held])
    sentences = []
    for d in docs:
        if d["_id"] not in held: continue
        candidates = [s for s in re.split(r'(?<=[.!?])\s+', d["text"]) if len(s.split()) >= 6]
        for s in random.sample(candidates, min(2, len(candidates))):
            sentences.append({"_id": f"{d['_id']}-s{len(sentences)}", "title": "", "text": s})
    write("sentences.jsonl", sentences)
    write("claims.jsonl", [{"_id": q["_id"], "title": "", "text": q["text"]} for q in map(json.loads, open(queries))])
    data = json.load(open(squad))["data"]
    write("squad-paras.jsonl", [{"_id": f"{a['title']}-{i}", "title": a["title"], "text": p["context"]}
                                for a in data for i, p in enumerate(a["paragraphs"])])
    write("squad-questions.jsonl", [{"_id": qa["id"], "title": "", "text": qa["question"]}
                                    for a in data for p in a["paragraphs"] for qa in p["qas"]])


def load(path):
    rows = [np.frombuffer(base64.b64decode(o["vector"]), dtype="<f4") for o in map(json.loads, open(path)) if "vector" in o]
    v = np.stack(rows).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class Trace:
    """Per query: lists in centroid order, the running 10th score and truth found after each probe."""
    def __init__(self, base, centroids, lists, queries, exclude=None, k=10):
        self.k = k
        scores = queries @ base.T
        if exclude is not None: scores[np.arange(len(queries)), exclude] = -9
        truth = np.argsort(-scores, axis=1)[:, :k]
        cs = queries @ centroids.T
        self.order = np.argsort(-cs, axis=1)
        self.ocs = np.take_along_axis(cs, self.order, 1)
        nq, nl = self.order.shape
        self.kth = np.zeros((nq, nl), np.float32); self.found = np.zeros((nq, nl), np.int32); self.cost = np.zeros((nq, nl))
        for i in range(nq):
            t = set(truth[i]); best = np.empty(0, np.float32); f = c = 0
            for j, l in enumerate(self.order[i]):
                m = lists[l]; c += len(m); f += len(t.intersection(m))
                best = np.sort(np.concatenate([best, scores[i, m]]))[-k:]
                self.kth[i, j] = best[0] if len(best) >= k else -9
                self.found[i, j] = f; self.cost[i, j] = c
        self.nq = nq

    def stop_at(self, probes):
        idx = np.clip(probes, 1, self.order.shape[1]) - 1
        r = np.arange(self.nq)
        return self.found[r, idx].mean() / self.k, self.cost[r, idx].mean(), idx.mean() + 1

    def margin_kth(self, m):   # probe the next list while its centroid score + m reaches the 10th hit
        go = self.ocs[:, 1:] + m >= self.kth[:, :-1]
        stop = np.argmin(go, axis=1) + 1; stop[go.all(axis=1)] = self.order.shape[1]
        return self.stop_at(stop)

    def margin_top(self, m):   # probe every list whose centroid scores within m of the best one
        return self.stop_at((self.ocs >= self.ocs[:, :1] - m).sum(1))


def study(base_path, real_args):
    import faiss
    base = load(base_path)
    reals = {name: load(path)[:1000] for name, path in (a.split("=", 1) for a in real_args)}
    n, d = base.shape
    nlist = max(1, min(int(round(4 * np.sqrt(n))), n // 39))
    rng = np.random.default_rng(1)
    km = faiss.Kmeans(d, nlist, niter=20, spherical=True, seed=1, verbose=False)
    km.train(base[rng.choice(n, size=min(n, nlist * 64), replace=False)])
    labels = np.argmax(base @ km.centroids.T, axis=1)
    lists = [np.where(labels == l)[0] for l in range(nlist)]
    print(f"{n} vectors, {nlist} lists")
    rng = np.random.default_rng(3)
    rows = rng.choice(n, 500, replace=False); x = base[rows]; mean = base.mean(0)
    def move(u, c):   # unit part of u orthogonal to x, mixed in at cosine c
        u = u - (u * x).sum(1, keepdims=True) * x
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-6)
        return (c * x + np.sqrt(1 - c ** 2) * u).astype(np.float32)
    spread = lambda: (base[rng.choice(n, (500, 8))] - mean).sum(1)
    proxies = {"own rows": x,
               "isotropic 0.7": move(rng.standard_normal(x.shape).astype(np.float32), 0.7),
               "one other row 0.7": move(base[rng.choice(n, 500)], 0.7),
               "spread 0.7": move(spread(), 0.7),
               "spread U(0.5,0.9)": move(spread(), rng.uniform(0.5, 0.9, (500, 1)).astype(np.float32))}
    traces = {name: Trace(base, km.centroids, lists, q) for name, q in reals.items()}
    traces.update({name: Trace(base, km.centroids, lists, q, exclude=rows) for name, q in proxies.items()})
    for name, t in traces.items():
        print(f"{name:20s} recall@10 at nprobe " + " ".join(f"{p}: {t.stop_at(np.full(t.nq, p))[0]:.3f}" for p in (5, 10, 20, 40, 80) if p <= nlist))
    rules = {"fixed nprobe": (lambda t, p: t.stop_at(np.full(t.nq, p)), range(1, nlist + 1)),
             "margin to 10th hit": (lambda t, m: t.margin_kth(m), np.arange(-0.3, 0.6, 0.0025)),
             "margin to best centroid": (lambda t, m: t.margin_top(m), np.arange(0, 0.6, 0.0025))}
    def calibrate(rule, t):
        fn, grid = rule
        for g in grid:
            if fn(t, g)[0] >= 0.95: return g
        return grid[-1]
    for proxy in proxies:
        print(f"== calibrated to 0.95 on {proxy}")
        for rule_name, rule in rules.items():
            g = calibrate(rule, traces[proxy])
            print(f"  {rule_name:24s} {g:8.4f}" + "".join(f" | {name} {rule[0](traces[name], g)[0]:.3f} ({rule[0](traces[name], g)[1]:.0f} codes)" for name in reals))
    print("== calibrated on each real set itself (the best a rule can do)")
    for name in reals:
        for rule_name, rule in rules.items():
            g = calibrate(rule, traces[name]); r = rule[0](traces[name], g)
            print(f"  {name} {rule_name:24s} {g:8.4f}: {r[0]:.3f} ({r[1]:.0f} codes)")


def check(index, base_path, queries_path, query_bin=".build/release/query"):
    import os, subprocess, tempfile
    base, queries = load(base_path), load(queries_path)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "q.npy"), queries)
        out = subprocess.run([query_bin, "--npy", os.path.join(tmp, "q.npy"), "-k", "10", index],
                             capture_output=True, text=True, check=True).stdout
    found = sum(len(set(int(h.split(":")[0]) for h in line.split(": ", 1)[1].split()) & set(t))
                for line, t in zip(out.strip().split("\n"), truth))
    print(f"{index}: recall@10 {found / (10 * len(queries)):.3f} on {len(queries)} queries of {queries_path}")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "check": check(*sys.argv[2:6])
    elif len(sys.argv) >= 6 and sys.argv[1] == "prepare": prepare(*sys.argv[2:6])
    elif len(sys.argv) >= 4 and sys.argv[1] == "study": study(sys.argv[2], sys.argv[3:])
    else: sys.exit(__doc__)
