#!/usr/bin/env python3
"""The `experiments one-class` table's scikit-learn peers: KDE, one-class SVM, Isolation Forest.

Same split and scaling as the crate's table: for each digit c, fit on the bundled training
images of class c (about 800 of data/mnist/'s 8,000, grey levels divided by 255, not
binarised), score the 2,000 bundled test images, and report the AUROC (in %) of "another digit"
against c, mean +- population sd over seeds (only the Isolation Forest is random; KDE and the
SVM give the same number for every seed).

- KDE: a Gaussian kernel; its bandwidth chosen by 3-fold cross-validated log-likelihood on the
  training class over 2^-4, ..., 2^3 (in pixel-space units); score -log density.
- one-class SVM: RBF kernel, gamma = 'scale' (1 / (784 var(x))), nu = 0.1; score
  -decision_function.
- Isolation Forest: 100 trees, 256 samples per tree (the defaults); score -score_samples.

Run: python3 benches/peers/sklearn_one_class.py [--seeds 3] (needs numpy and scikit-learn)
"""

import argparse
import gzip
import os
import struct
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.svm import OneClassSVM

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist")


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 0x00000803:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols) / 255.0
    if magic == 0x00000801:
        return np.frombuffer(raw, np.uint8, offset=8).astype(int)
    raise ValueError(f"{name}: not an IDX file of images or labels")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    train, train_labels = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    test, test_labels = idx("test-images-idx3-ubyte.gz"), idx("test-labels-idx1-ubyte.gz")
    methods = ["KDE", "one-class SVM", "Isolation Forest"]
    table = {m: np.zeros((10, args.seeds)) for m in methods}
    start = time.perf_counter()
    for digit in range(10):
        x = train[train_labels == digit]
        positives = test_labels != digit
        search = GridSearchCV(
            KernelDensity(kernel="gaussian"), {"bandwidth": [0.0625, 0.125, 0.25, 0.5, 1, 2, 4, 8]}, cv=3
        ).fit(x)
        kde = -search.best_estimator_.score_samples(test)
        svm = -OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(x).decision_function(test)
        for seed in range(args.seeds):
            forest = IsolationForest(random_state=seed).fit(x)
            table["KDE"][digit, seed] = roc_auc_score(positives, kde)
            table["one-class SVM"][digit, seed] = roc_auc_score(positives, svm)
            table["Isolation Forest"][digit, seed] = roc_auc_score(positives, -forest.score_samples(test))
        print(f"digit={digit} kde_bandwidth={search.best_params_['bandwidth']}", flush=True)
    cell = lambda v: f"{100 * v.mean():.1f} ± {100 * v.std():.1f}"
    print()
    print("| digit | " + " | ".join(methods) + " |")
    print("| ---: |" + " ---: |" * len(methods))
    for digit in range(10):
        print(f"| {digit} | " + " | ".join(cell(table[m][digit]) for m in methods) + " |")
    print("| mean | " + " | ".join(cell(table[m].mean(axis=0)) for m in methods) + " |")
    print(f"\nfinished in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
