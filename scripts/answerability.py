#!/usr/bin/env python3
"""How well do answerability signals separate answerable questions from the same questions with
their relevant documents removed? Reads the TSV of `evaluate squad|beir … --answerability-features FILE`
(one row per question and condition) and prints, for each feature and for a logistic regression
over all of them (5-fold cross-validation, folds by group: SQuAD article or BEIR query), the
share of removed-document questions abstained on at the threshold that abstains on at most 5%
of answerable ones. Needs numpy only.

    python3 scripts/answerability.py squad-features.tsv [scifact-features.tsv ...]
"""
import csv
import sys

import numpy as np


def load(path):
    rows = list(csv.reader(open(path), delimiter="\t"))
    names = rows[0][2:]
    groups = np.array([r[0] for r in rows[1:]])
    answerable = np.array([int(r[1]) for r in rows[1:]])
    x = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    return names, groups, answerable, x


def rates(score_answerable, score_removed, budget=0.05):
    """Threshold abstaining on at most `budget` of answerable; both abstention rates there."""
    t = np.sort(score_answerable)[int(len(score_answerable) * budget)]
    return t, (score_answerable < t).mean(), (score_removed < t).mean()


def fit(x, y, l2=1e-3):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.c_[(x - mu) / sd, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    for _ in range(30):  # Newton steps on the L2-regularized log loss
        p = 1 / (1 + np.exp(-z @ w))
        h = z.T @ (z * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w -= np.linalg.solve(h, z.T @ (p - y) + l2 * w)
    return lambda q: np.c_[(q - mu) / sd, np.ones(len(q))] @ w


def cross_validated_scores(groups, y, x, folds=5, seed=0):
    keys = np.unique(groups)
    np.random.default_rng(seed).shuffle(keys)
    fold = {k: i % folds for i, k in enumerate(keys)}
    f = np.array([fold[g] for g in groups])
    scores = np.zeros(len(y))
    for k in range(folds):
        model = fit(x[f != k], y[f != k])
        scores[f == k] = model(x[f == k])
    return scores


def main(paths):
    for path in paths:
        names, groups, y, x = load(path)
        pairs = len(y) // 2
        same = np.all(np.abs(x[0::2] - x[1::2]) < 1e-6, axis=1).mean()
        print(f"{path}: {pairs} questions; evidence identical with and without the relevant documents "
              f"(none in the top hits): {same:.1%}")
        print(f"  {'signal':24s} {'threshold':>9s} {'answerable':>10s} {'removed':>8s}")
        for i, name in enumerate(names):
            t, a, r = rates(x[y == 1, i], x[y == 0, i])
            print(f"  {name:24s} {t:9.3f} {a:10.1%} {r:8.1%}")
        s = cross_validated_scores(groups, y, x)
        t, a, r = rates(s[y == 1], s[y == 0])
        print(f"  {'logistic, all (5-fold)':24s} {'':9s} {a:10.1%} {r:8.1%}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
