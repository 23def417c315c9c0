"""Fit and predict times of xplearn's classifiers against scikit-learn.

LogisticRegression (lbfgs), GaussianNB and LinearDiscriminantAnalysis on one data set
(``make_classification``: n=200_000, d=100, 10 classes), float32 and float64, with
xplearn on NumPy and on torch (CPU). Every pair of runs is back to back in this process.

For LogisticRegression both libraries get the same ``tol`` and ``max_iter``, and the
final objective of both fitted models is computed by one function (``objective``,
float64 NumPy), so the comparison is at equal tolerance *and* equal final loss.

Usage::

    python benchmarks/bench_linear.py            # n=200_000
    python benchmarks/bench_linear.py --quick    # n=20_000, a smoke run
"""

from __future__ import annotations

import argparse
import gc
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as SkLDA
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.naive_bayes import GaussianNB as SkGaussianNB

from xplearn.discriminant_analysis import LinearDiscriminantAnalysis
from xplearn.linear_model import LogisticRegression
from xplearn.naive_bayes import GaussianNB


def objective(X, codes, coef, intercept, C):
    """scikit-learn's lbfgs objective in float64: mean log-loss + ||coef||^2 / (2 C n)."""
    X = np.asarray(X, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    n = X.shape[0]
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        z = scores[:, 0]
        losses = np.logaddexp(0.0, z) - (codes == 1) * z
    else:
        top = scores.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        losses = lse - scores[np.arange(n), codes]
    return float(losses.mean() + (coef * coef).sum() / (2.0 * C * n))


def _to_numpy(array):
    if hasattr(array, "detach"):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def _timed(function, repeat):
    """Best wall time of ``repeat`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _backends():
    backends = [("numpy", lambda a: a)]
    try:
        import torch

        backends.append(("torch", torch.from_numpy))
    except ImportError:  # pragma: no cover
        pass
    return backends


def run(n_samples, n_features, n_classes, repeat, tol, max_iter, C):
    X64, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_features // 2,
        n_redundant=n_features // 10,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=1.0,
        random_state=0,
    )
    codes = y  # make_classification gives labels 0..n_classes-1
    rows = []
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        X_test = X[: min(n_samples, 50_000)]

        # LogisticRegression
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter, both sides
            sk_fit, sk_model = _timed(
                lambda X=X: SkLogisticRegression(C=C, tol=tol, max_iter=max_iter).fit(X, y),
                repeat,
            )
        sk_predict, _ = _timed(lambda m=sk_model, X=X_test: m.predict(X), repeat)
        sk_loss = objective(X, codes, sk_model.coef_, sk_model.intercept_, C)
        variants = [(backend, convert, "preserve") for backend, convert in _backends()]
        if dtype == np.float32:
            # float64 optimizer state and sums over float32 data and products
            variants += [(backend, convert, "mixed") for backend, convert in _backends()]
        for backend, convert, policy in variants:
            Xb, yb, Xb_test = convert(X), convert(y), convert(X_test)
            params = dict(C=C, tol=tol, max_iter=max_iter, dtype_policy=policy)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit, model = _timed(
                    lambda Xb=Xb, yb=yb, p=params: LogisticRegression(**p).fit(Xb, yb), repeat
                )
            predict, _ = _timed(lambda m=model, Xb=Xb_test: m.predict(Xb), repeat)
            loss = objective(X, codes, _to_numpy(model.coef_), _to_numpy(model.intercept_), C)
            rows.append(
                dict(
                    model="LogisticRegression",
                    dtype=np.dtype(dtype).name + ("" if policy == "preserve" else "/mixed"),
                    backend=backend,
                    fit=fit,
                    sk_fit=sk_fit,
                    predict=predict,
                    sk_predict=sk_predict,
                    loss=loss,
                    sk_loss=sk_loss,
                    n_iter=int(_to_numpy(model.n_iter_)[0]),
                    sk_n_iter=int(sk_model.n_iter_[0]),
                )
            )

        # GaussianNB and LDA
        for name, ours, theirs in (
            ("GaussianNB", GaussianNB, SkGaussianNB),
            ("LinearDiscriminantAnalysis", LinearDiscriminantAnalysis, SkLDA),
        ):
            sk_fit, sk_model = _timed(lambda X=X, est=theirs: est().fit(X, y), repeat)
            sk_predict, _ = _timed(lambda m=sk_model, X=X_test: m.predict(X), repeat)
            for backend, convert in _backends():
                Xb, yb, Xb_test = convert(X), convert(y), convert(X_test)
                fit, model = _timed(lambda Xb=Xb, yb=yb, est=ours: est().fit(Xb, yb), repeat)
                predict, _ = _timed(lambda m=model, Xb=Xb_test: m.predict(Xb), repeat)
                rows.append(
                    dict(
                        model=name,
                        dtype=np.dtype(dtype).name,
                        backend=backend,
                        fit=fit,
                        sk_fit=sk_fit,
                        predict=predict,
                        sk_predict=sk_predict,
                    )
                )
    return rows


def print_table(rows):
    header = (
        f"{'model':<27}{'dtype':<14}{'backend':<8}{'fit s':>8}{'sk fit s':>9}{'ratio':>7}"
        f"{'pred ms':>9}{'sk pred':>9}{'ratio':>7}{'iter':>6}{'sk it':>6}"
        f"{'final loss':>14}{'sk loss':>14}{'rel diff':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        line = (
            f"{row['model']:<27}{row['dtype']:<14}{row['backend']:<8}"
            f"{row['fit']:>8.3f}{row['sk_fit']:>9.3f}{row['fit'] / row['sk_fit']:>7.2f}"
            f"{1e3 * row['predict']:>9.1f}{1e3 * row['sk_predict']:>9.1f}"
            f"{row['predict'] / row['sk_predict']:>7.2f}"
        )
        if "loss" in row:
            rel = (row["loss"] - row["sk_loss"]) / abs(row["sk_loss"])
            line += (
                f"{row['n_iter']:>6}{row['sk_n_iter']:>6}"
                f"{row['loss']:>14.8f}{row['sk_loss']:>14.8f}{rel:>+10.1e}"
            )
        print(line)
    print(
        "ratio = xplearn / scikit-learn (below 1: xplearn faster); float32/mixed = xplearn's "
        "dtype_policy='mixed' against scikit-learn on the same float32 data;\n"
        "rel diff = (xplearn loss - scikit-learn loss) / scikit-learn loss, both computed "
        "by objective() in float64 (negative: xplearn's solution is better)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=20_000, one repeat")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None, help="best of this many runs")
    parser.add_argument("--tol", type=float, default=1e-4, help="same tol for both")
    parser.add_argument("--max-iter", type=int, default=1000, help="same max_iter for both")
    parser.add_argument("--C", type=float, default=1.0)
    args = parser.parse_args(argv)
    n_samples = args.n_samples or (20_000 if args.quick else 200_000)
    repeat = args.repeat or (1 if args.quick else 3)
    print(
        f"n_samples={n_samples}, n_features=100, n_classes=10, tol={args.tol}, "
        f"max_iter={args.max_iter}, C={args.C}, best of {repeat}"
    )
    rows = run(n_samples, 100, 10, repeat, args.tol, args.max_iter, args.C)
    print_table(rows)


if __name__ == "__main__":
    main()
