#!/usr/bin/env python3
"""Calibrates serve's L2 cache threshold: cosines of question embeddings from a running `serve`
(POST /v1/embeddings, so the vectors are the server's own) on

  - paraphrase pairs (docs/calibration/cache-paraphrases.tsv): a hit is right;
  - different questions about the bundled corpus (the calibration questions and their paraphrases,
    across groups): a hit is a false hit;
  - SQuAD questions about the same paragraph whose accepted answers share none (data/squad): the
    hardest false hits, same passage, same words, another answer.

Prints, per threshold, the share of paraphrase pairs at or above it (hits) and the share of each
kind of different-question pair at or above it (false hits).

    bench/cache_threshold.py http://127.0.0.1:8000
"""
import gzip, itertools, json, re, string, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor

root = __file__.rsplit("/bench/", 1)[0] if "/bench/" in __file__ else "."
url = sys.argv[1].rstrip("/") + "/v1/embeddings"

def embed(texts):
    batches = [texts[i:i + 64] for i in range(0, len(texts), 64)]
    def one(batch):
        body = json.dumps({"input": batch}).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}), timeout=300) as r:
            data = json.load(r)["data"]
        return [d["embedding"] for d in sorted(data, key=lambda d: d["index"])]
    with ThreadPoolExecutor(2) as pool:
        return [v for vs in pool.map(one, batches) for v in vs]

def dot(a, b): return sum(x * y for x, y in zip(a, b))

# Paraphrase groups: a question and its rewordings.
groups = {}
for line in open(f"{root}/docs/calibration/cache-paraphrases.tsv", encoding="utf-8"):
    if line.startswith("#") or not line.strip(): continue
    q, p = line.rstrip("\n").split("\t")
    groups.setdefault(q, [q]).append(p)
texts = sorted({t for g in groups.values() for t in g})
group_of = {t: q for q, g in groups.items() for t in g}

def normalize(s):
    s = s.lower()
    s = "".join(c for c in s if c not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())

squad = json.load(gzip.open(f"{root}/data/squad/dev-v1.1.even-articles.json.gz", "rt", encoding="utf-8"))
paragraphs = []
for article in squad["data"]:
    for p in article["paragraphs"]:
        paragraphs.append([(qa["question"].strip(), {normalize(a["text"]) for a in qa["answers"]}) for qa in p["qas"]])
squad_texts = sorted({q for p in paragraphs for q, _ in p})

vectors = dict(zip(texts + squad_texts, embed(texts + squad_texts)))

positive = [dot(vectors[q], vectors[p]) for q, g in groups.items() for p in g[1:]]
# Paraphrases of one question among themselves are right hits too; only across groups are they false.
corpus_negative = [dot(vectors[a], vectors[b]) for a, b in itertools.combinations(texts, 2) if group_of[a] != group_of[b]]
squad_negative = []
for p in paragraphs:
    for (qa, aa), (qb, ab) in itertools.combinations(p, 2):
        if qa != qb and not (aa & ab): squad_negative.append(dot(vectors[qa], vectors[qb]))

def share(xs, t): return sum(x >= t for x in xs) / len(xs)

print(f"paraphrase pairs: {len(positive)}; different corpus questions: {len(corpus_negative)} pairs; "
      f"SQuAD same-paragraph questions with different answers: {len(squad_negative)} pairs ({len(squad_texts)} questions)")
print(f"paraphrase cosine: min {min(positive):.3f}, median {sorted(positive)[len(positive)//2]:.3f}; "
      f"highest different-question cosine: corpus {max(corpus_negative):.3f}, SQuAD {max(squad_negative):.3f}")
print("| threshold | paraphrases hit | corpus false hits | SQuAD false hits |")
print("|---:|---:|---:|---:|")
for t in [0.70, 0.75, 0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98]:
    print(f"| {t:.2f} | {share(positive, t):.1%} | {share(corpus_negative, t):.2%} | {share(squad_negative, t):.2%} |")
