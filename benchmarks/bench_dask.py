"""KMeans on Dask (issue #7): xplearn on a LocalCluster vs dask-ml's KMeans vs xplearn in
memory, and the out-of-core fit.

Usage::

    python benchmarks/bench_dask.py                 # 20M x 32 float32, k=16 -> docs/benchmarks/dask.rst
    python benchmarks/bench_dask.py --quick         # small smoke run, nothing written
    python benchmarks/bench_dask.py --out-of-core   # 400M x 16 float32 (25.6 GB), never materialised

The data are blobs generated block by block from a seed (``blob_array``), identical for
every contender. In-memory mode persists them on the cluster first (the data fit in the
workers' memory), so every contender reads the same blocks; the in-memory contender gets
them as one NumPy array in this process. Every fit starts from the same explicit init
(the first k rows) with ``tol=0``; the time per Lloyd iteration is the difference of a
fit with ``2 + iterations`` and a fit with 2 iterations, divided by ``iterations``, so
that the passes every fit makes once (validation, statistics, final inertia) cancel out.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import simple_table

DOC = Path(__file__).parents[1] / "docs" / "benchmarks" / "dask.rst"


def _blob_block(n_features, n_centers, seed, block_info=None):
    """Rows of one block: blob centers (shared by all blocks) plus unit noise, drawn from
    a stream seeded by (seed, block index)."""
    info = block_info[None]
    (start, stop), _ = info["array-location"]
    centers = np.random.default_rng(seed).uniform(-8, 8, size=(n_centers, n_features))
    rng = np.random.default_rng([seed, info["chunk-location"][0]])
    labels = rng.integers(n_centers, size=stop - start)
    noise = rng.standard_normal((stop - start, n_features), dtype=np.float32)
    return noise + centers.astype(np.float32)[labels]


def blob_array(n_samples, n_features, chunk_rows, seed=0, n_centers=16):
    """A lazy float32 Dask array of blobs, generated block by block (never all at once)."""
    import dask.array as da

    n_full, rest = divmod(n_samples, chunk_rows)
    rows = (chunk_rows,) * n_full + ((rest,) if rest else ())
    return da.map_blocks(
        _blob_block,
        n_features,
        n_centers,
        seed,
        chunks=(rows, (n_features,)),
        dtype=np.float32,
        meta=np.empty((0, n_features), dtype=np.float32),
    )


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_seconds(fit, max_iter):
    start = time.perf_counter()
    model = fit(max_iter)
    return time.perf_counter() - start, model


def per_iteration(fit, iterations):
    """(seconds per Lloyd iteration, iterations run, seconds of the longer fit), after a
    warm-up fit (numba compiles or loads its kernels once per process)."""
    fit(1)
    short, short_model = _fit_seconds(fit, 2)
    long, long_model = _fit_seconds(fit, 2 + iterations)
    ran = long_model.n_iter_ - short_model.n_iter_
    return (long - short) / max(ran, 1), ran, long


def _xplearn_fit(X, init, n_clusters):
    from xplearn.cluster import KMeans

    def fit(max_iter):
        return KMeans(n_clusters, init=init, n_init=1, max_iter=max_iter, tol=0.0).fit(X)

    return fit


def _dask_ml_fit(X, init, n_clusters):
    from dask_ml.cluster import KMeans

    def fit(max_iter):
        return KMeans(
            n_clusters=n_clusters, init=init, max_iter=max_iter, tol=0.0, random_state=0
        ).fit(X)

    return fit


def _tasks(client, run):
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        run()
    return len(stream.data)


def run_in_memory(args):
    import dask.array as da
    from distributed import Client, LocalCluster

    rows = []
    errors = []
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        X = client.persist(blob_array(args.n_samples, args.n_features, args.chunk_rows))
        from distributed import wait

        wait(X)
        init_host = X[: args.n_clusters].compute()
        init = da.from_array(init_host)
        seconds, ran, _ = per_iteration(_xplearn_fit(X, init, args.n_clusters), args.iterations)
        tasks = _tasks(client, lambda: _xplearn_fit(X, init, args.n_clusters)(3))
        worker_peak = max(client.run(_peak_rss_mib).values())
        rows.append(("xplearn (Dask, LocalCluster)", seconds, ran, tasks, worker_peak))
        try:
            seconds, ran, _ = per_iteration(
                _dask_ml_fit(X, init_host, args.n_clusters), args.iterations
            )
            tasks = _tasks(client, lambda: _dask_ml_fit(X, init_host, args.n_clusters)(3))
            worker_peak = max(client.run(_peak_rss_mib).values())
            rows.append(("dask-ml KMeans (LocalCluster)", seconds, ran, tasks, worker_peak))
        except Exception:
            errors.append(traceback.format_exc())
            print(errors[-1], file=sys.stderr)
        X_host = X.compute()
    seconds, ran, _ = per_iteration(
        _xplearn_fit(X_host, init_host, args.n_clusters), args.iterations
    )
    rows.append(("xplearn in memory (NumPy)", seconds, ran, 0, _peak_rss_mib()))
    return rows, errors


def run_out_of_core(args):
    import dask.array as da
    from distributed import Client, LocalCluster, get_task_stream

    from xplearn.cluster import KMeans

    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        X = blob_array(args.n_samples, args.n_features, args.chunk_rows)
        init = da.from_array(X[: args.n_clusters].compute())
        model = KMeans(args.n_clusters, init=init, n_init=1, max_iter=args.iterations, tol=0.0)
        start = time.perf_counter()
        with get_task_stream(client) as stream:
            model.fit(X)
        seconds = time.perf_counter() - start
        tasks = len(stream.data)
        peaks = client.run(_peak_rss_mib)
    # passes over X: validation, statistics, one per iteration, the final inertia
    passes = 2 + model.n_iter_ + 1
    return {
        "seconds": seconds,
        "n_iter": model.n_iter_,
        "passes": passes,
        "seconds_per_pass": seconds / passes,
        "tasks": tasks,
        "worker_peak_mib": max(peaks.values()),
        "client_peak_mib": _peak_rss_mib(),
        "inertia": model.inertia_,
    }


def count_fit_computations():
    """Dask computations each estimator's ``fit`` starts on a (2000, 8) float64 Dask
    array in 500-row chunks (default parameters, random_state=0; classifiers on 3
    classes as a Dask array), under the synchronous scheduler; with the iteration count
    of the iterative fits, on which their number depends."""
    import dask.array as da
    from sklearn.base import is_classifier, is_regressor
    from sklearn.datasets import make_classification

    from xplearn.testing import count_dask_computes
    from xplearn.utils.discovery import all_estimators

    X, y = make_classification(2000, 8, n_informative=5, n_classes=3, random_state=0)
    X_lazy = da.from_array(X, chunks=(500, 8))
    targets = {
        "classifier": da.from_array(y, chunks=500),
        "regressor": da.from_array(X @ np.arange(8.0), chunks=500),
    }
    counts = {}
    for name, estimator_class in all_estimators():
        estimator = estimator_class()
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=0)
        kind = (
            "classifier"
            if is_classifier(estimator)
            else "regressor"
            if is_regressor(estimator)
            else None
        )
        with count_dask_computes() as counter:
            estimator.fit(X_lazy, targets.get(kind))
        counts[name] = counter.count
        iterations = getattr(estimator, "n_iter_", None)
        note = "" if iterations is None else f"  (n_iter_ = {np.asarray(iterations).ravel()[0]})"
        print(f"{name:30s} {counter.count}{note}")
    return counts


def _command(argv):
    return "python benchmarks/bench_dask.py " + " ".join(argv)


def _write_in_memory(path, args, rows, errors, argv):
    by_name = {row[0]: row for row in rows}
    lines = [
        (name, f"{seconds * 1e3:.0f}", str(ran), f"{tasks:,}", f"{peak:,.0f}")
        for name, seconds, ran, tasks, peak in rows
    ]
    table = simple_table(
        (
            "contender",
            "ms / iteration",
            "iterations timed",
            "tasks (3-iteration fit)",
            "peak RSS MiB",
        ),
        lines,
    )
    ours = by_name["xplearn (Dask, LocalCluster)"][1]
    memory = by_name["xplearn in memory (NumPy)"][1]
    targets = [f"xplearn on Dask / in memory: {ours / memory:.2f}x (target <= 1.5x)"]
    if "dask-ml KMeans (LocalCluster)" in by_name:
        theirs = by_name["dask-ml KMeans (LocalCluster)"][1]
        targets.insert(0, f"dask-ml / xplearn per iteration: {theirs / ours:.1f}x (target >= 3x)")
    else:
        targets.insert(0, "dask-ml did not run: see the error below")
    error_block = ""
    if errors:
        error_block = "\ndask-ml's error::\n\n" + "\n".join(
            "    " + line for line in errors[0].splitlines()
        )
    _write(path, args, table, targets, error_block, argv, "in memory")


IN_MEMORY_HOW = """same explicit init, ``tol=0``, data persisted on the
cluster. Time per Lloyd iteration: (fit with {long} iterations - fit with 2) /
{iterations}. Peak RSS: the largest worker process (cluster contenders, since the
cluster started) or this process (in memory)."""

OUT_OF_CORE_HOW = """one fit from an explicit init (the first k rows), ``tol=0``,
``max_iter={iterations}``, the data never persisted: every pass over X generates the
blocks again (the generation dominates the time). Passes: X's finiteness check, the
column statistics, one per iteration, the final inertia; seconds per pass = fit seconds /
passes. Peak RSS: the largest worker process, and this (client) process."""


def _write(path, args, table, targets, extra, argv, mode):
    indented = "\n".join("   " + line for line in table.splitlines())
    listed = "\n".join("* " + line for line in targets)
    how = (OUT_OF_CORE_HOW if mode == "out of core" else IN_MEMORY_HOW).format(
        long=2 + args.iterations, iterations=args.iterations
    )
    text = f"""KMeans on Dask ({mode})
{"=" * (len(mode) + 17)}

{args.n_samples:,} x {args.n_features} float32 blobs generated block by block
({args.chunk_rows:,}-row blocks), k={args.n_clusters}; a ``LocalCluster`` of
{args.workers} worker processes with one thread each; {how}

Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()};
measured {datetime.date.today().isoformat()}.

Command::

    {_command(argv)}

.. table::
   :widths: auto

{indented}

Targets of issue #7 in this run:

{listed}
{extra}
"""
    path.write_text(text)
    print(f"wrote {path}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out-of-core", action="store_true")
    parser.add_argument(
        "--count-computations", action="store_true", help="computations of each fit, and exit"
    )
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--n-features", type=int, default=None)
    parser.add_argument("--n-clusters", type=int, default=16)
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.count_computations:
        count_fit_computations()
        return
    if args.out_of_core:
        defaults = (400_000_000, 16, 2_000_000, 3)
    elif args.quick:
        defaults = (400_000, 32, 50_000, 3)
    else:
        defaults = (20_000_000, 32, 1_000_000, 10)
    for name, value in zip(
        ("n_samples", "n_features", "chunk_rows", "iterations"), defaults, strict=True
    ):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.out_of_core:
        result = run_out_of_core(args)
        for key, value in result.items():
            print(f"{key}: {value:,.3f}" if isinstance(value, float) else f"{key}: {value:,}")
        if not args.no_write and not args.quick:
            table = simple_table(
                (
                    "fit seconds",
                    "iterations",
                    "passes over X",
                    "s / pass",
                    "tasks",
                    "worker peak RSS MiB",
                    "client peak RSS MiB",
                ),
                [
                    (
                        f"{result['seconds']:.0f}",
                        str(result["n_iter"]),
                        str(result["passes"]),
                        f"{result['seconds_per_pass']:.1f}",
                        f"{result['tasks']:,}",
                        f"{result['worker_peak_mib']:,.0f}",
                        f"{result['client_peak_mib']:,.0f}",
                    )
                ],
            )
            size = args.n_samples * args.n_features * 4 / 1e9
            note = [
                f"{size:.1f} GB of data, never materialised; peak memory per worker: see the table"
            ]
            _write(
                args.output or DOC.with_name("dask_out_of_core.rst"),
                args,
                table,
                note,
                "",
                argv,
                "out of core",
            )
        return
    rows, errors = run_in_memory(args)
    for row in rows:
        print(
            f"{row[0]:32s} {row[1] * 1e3:9.1f} ms/iter  iterations {row[2]}  tasks {row[3]:,}  peak {row[4]:,.0f} MiB"
        )
    if not args.no_write and not args.quick:
        _write_in_memory(args.output or DOC, args, rows, errors, argv)


if __name__ == "__main__":
    main()
