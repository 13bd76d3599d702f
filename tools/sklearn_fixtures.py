#!/usr/bin/python3
"""Writes the scikit-learn agreement fixtures under tests/fixtures/iforest/.

Run with Debian's python3 (it has python3-sklearn 1.2.x):

    /usr/bin/python3 tools/sklearn_fixtures.py

The output is committed; tests/unit/test_iforest.c and the e2e scripts read it without
scikit-learn. Everything is seeded, so rerunning with the same numpy/sklearn versions
rewrites identical files. Files:

  data.csv            header row + 2040 rows x 8 float32-exact features: 2000 inliers
                      (two Gaussian clusters, a heavy-tailed, a Poisson count, a constant
                      and a binary column) then 40 outliers; labels.txt has 0/1 per row.
  test.csv            500 rows drawn wider than the training data (scoring only).
  dup.csv             60 rows with many exact duplicates (duplicate-leaf behaviour).
  exact_trees.txt     a fitted IsolationForest (32 trees, psi 256, random_state 7, on
                      data.csv) in the text format below.
  exact_scores.txt    -score_samples of that model: data.csv rows then test.csv rows.
  dup_trees.txt       IsolationForest(20 trees, psi "auto" = 60, random_state 3) on dup.csv
  dup_scores.txt      -score_samples of it on dup.csv.
  dist_scores.txt     -score_samples of IsolationForest(1000 trees, random_state 0) on
                      data.csv, scored on data.csv; dist_meta.txt: its ROC AUC vs labels, and
                      for scale, sklearn's own mean |diff| from it with seeds 1-3.

Tree text format (one forest per file):
  line 1: "tapir-iforest-export 1 <n_features> <n_trees> <sample_size>"
  per tree: "tree <n_nodes>", then n_nodes lines in sklearn's node order:
            "<left> <right> <feature> <threshold %.17g> <n_node_samples>"
            (leaf: left = right = -1, feature -2, threshold -2, as sklearn stores them).
"""
import os
import sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "tests", "fixtures", "iforest")
NAMES = ["clust_a", "clust_b", "corr_a", "heavy", "count", "const", "flag", "uniform"]


def write_csv(path, X):
    with open(path, "w") as f:
        f.write(",".join(NAMES) + "\n")
        for row in X:
            # %.9g round-trips a float32 exactly
            f.write(",".join("%.9g" % v for v in row) + "\n")


def write_trees(path, model, n_features):
    assert model._max_features == n_features  # every tree sees every feature, in order
    with open(path, "w") as f:
        f.write("tapir-iforest-export 1 %d %d %d\n"
                % (n_features, len(model.estimators_), model.max_samples_))
        for est in model.estimators_:
            t = est.tree_
            f.write("tree %d\n" % t.node_count)
            for i in range(t.node_count):
                f.write("%d %d %d %.17g %d\n" % (t.children_left[i], t.children_right[i],
                                                  t.feature[i], t.threshold[i],
                                                  t.n_node_samples[i]))


def write_scores(path, s):
    with open(path, "w") as f:
        for v in s:
            f.write("%.17g\n" % v)


def make_data(rng):
    n_in, n_out = 2000, 40
    half = n_in // 2
    a = np.concatenate([rng.normal(0, 1, half), rng.normal(5, 0.5, n_in - half)])
    b = np.concatenate([rng.normal(0, 1, half), rng.normal(-3, 0.7, n_in - half)])
    inl = np.column_stack([
        a, b,
        a * 0.8 + rng.normal(0, 0.3, n_in),
        rng.lognormal(0, 1, n_in),
        rng.poisson(3, n_in).astype(float),
        np.zeros(n_in),
        (rng.uniform(size=n_in) < 0.2).astype(float),
        rng.uniform(0, 1, n_in),
    ])
    out = np.column_stack([
        rng.uniform(-8, 12, n_out), rng.uniform(-10, 8, n_out), rng.uniform(-8, 12, n_out),
        rng.lognormal(2, 1, n_out), rng.poisson(12, n_out).astype(float),
        np.zeros(n_out), (rng.uniform(size=n_out) < 0.5).astype(float),
        rng.uniform(-1, 2, n_out),
    ])
    X = np.vstack([inl, out]).astype(np.float32)
    y = np.concatenate([np.zeros(n_in, int), np.ones(n_out, int)])
    return X, y


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261122)
    X, y = make_data(rng)
    T = np.column_stack([rng.uniform(-10, 14, (500, 3)), rng.lognormal(1, 1.5, 500),
                         rng.poisson(5, 500), rng.choice([0.0, 0.0, 1.0], 500),
                         rng.integers(0, 2, 500), rng.uniform(-1, 2, 500)]).astype(np.float32)
    base = rng.integers(0, 6, (60, 8)).astype(np.float32)
    D = base[rng.integers(0, 7, 60)]  # only 7 distinct rows
    D[:5] = rng.normal(0, 3, (5, 8)).astype(np.float32)

    write_csv(os.path.join(OUT, "data.csv"), X)
    write_csv(os.path.join(OUT, "test.csv"), T)
    write_csv(os.path.join(OUT, "dup.csv"), D)
    with open(os.path.join(OUT, "labels.txt"), "w") as f:
        f.write("".join("%d\n" % v for v in y))

    m = IsolationForest(n_estimators=32, random_state=7).fit(X)
    write_trees(os.path.join(OUT, "exact_trees.txt"), m, X.shape[1])
    write_scores(os.path.join(OUT, "exact_scores.txt"),
                 np.concatenate([-m.score_samples(X), -m.score_samples(T)]))

    m = IsolationForest(n_estimators=20, random_state=3).fit(D)
    write_trees(os.path.join(OUT, "dup_trees.txt"), m, D.shape[1])
    write_scores(os.path.join(OUT, "dup_scores.txt"), -m.score_samples(D))

    m = IsolationForest(n_estimators=1000, random_state=0).fit(X)
    s = -m.score_samples(X)
    write_scores(os.path.join(OUT, "dist_scores.txt"), s)
    auc = roc_auc_score(y, s)
    with open(os.path.join(OUT, "dist_meta.txt"), "w") as f:
        f.write("auc %.17g\n" % auc)
        f.write("trees 1000\nsklearn %s\nnumpy %s\n"
                % (sys.modules["sklearn"].__version__, np.__version__))
        # for scale: how far sklearn's own forests with other seeds land from these scores
        for seed in (1, 2, 3):
            v = -IsolationForest(n_estimators=1000, random_state=seed).fit(X).score_samples(X)
            f.write("sklearn_seed %d mean_abs_diff %.6f auc %.6f\n"
                    % (seed, np.mean(np.abs(v - s)), roc_auc_score(y, v)))
    print("wrote fixtures to %s (sklearn AUC %.6f)" % (OUT, auc))


if __name__ == "__main__":
    main()
