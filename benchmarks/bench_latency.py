"""Serving latency: one-row and 100,000-row predict, natively and in onnxruntime.

For each model (scikit-learn and xplearn twins with the same hyper-parameters, fitted on
the same ``make_classification`` data: 10,000 rows, 20 features, 3 classes) the script
measures the median microseconds of a one-row call (2,000 calls after 200 warm-up calls,
``time.perf_counter`` around each call, the same C-contiguous one-row array every time)
of

* scikit-learn's ``predict`` (``transform`` for PCA),
* xplearn's ``predict``,
* onnxruntime on xplearn's export (``xplearn.onnx.to_onnx``),
* onnxruntime on skl2onnx's export of the scikit-learn twin,

and the rows/second of each on one 100,000-row batch (100,000 / median of a few runs).
A model's contenders are timed in interleaved rounds, so that a change of machine load
hits them alike.

The ONNX graphs compute the same thing: xplearn exports ``methods=("predict",)`` and
skl2onnx's graph (``zipmap=False`` for classifiers) is asked for its ``label`` output
only. Classifiers get a second ONNX row set, ``+proba``, where both graphs export and
return the labels and the probabilities, which serving usually wants. onnxruntime runs
with ``intra_op_num_threads=1`` for one row and xplearn's thread count for batches, the
same session options for both graphs, default graph optimisations.

Usage::

    python benchmarks/bench_latency.py                   # full run, writes docs/benchmarks/latency.rst
    python benchmarks/bench_latency.py --quick           # smoke test (fewer calls, smaller data)
    python benchmarks/bench_latency.py --models knn pca  # a subset
    python benchmarks/bench_latency.py --dtype float64
"""

from __future__ import annotations

import functools
import gc
import os
import shlex
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

# the shared helpers sit next to this script (benchmarks/ is not a package)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, simple_table, threads_note, write_page

N_FEATURES = 20
N_CLASSES = 3
N_TRAIN = 10_000
N_BATCH = 100_000
CALLS, WARMUP = 2_000, 200
QUICK = {"n_train": 2_000, "n_batch": 10_000, "calls": 200, "warmup": 20}
#: onnxruntime gets the KNN batch in slices of this many rows: a whole 100,000-row batch
#: would make both graphs hold a 100,000 x 10,000 distance matrix (4 GB in float32).
KNN_ORT_SLICE = 10_000
#: issue #6 target: xplearn's native one-row predict is this many times faster than
#: scikit-learn's, for every model; and its ONNX graph is no slower than skl2onnx's.
TARGET_NATIVE_SPEEDUP = 10.0
LIBRARIES = ("sklearn", "xplearn", "ort-xplearn", "ort-skl2onnx")
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "latency.rst"


# ---------------------------------------------------------------------------------------
# The models: name -> (label in the table, factory(library, X) -> unfitted estimator,
# classifier?). Both libraries get the same hyper-parameters.


def _pipeline(lib, X):
    # xplearn's make_pipeline: scikit-learn's Pipeline whose inference chains xplearn
    # steps directly (scikit-learn's dispatch costs more than the steps on one row)
    if lib == "sklearn":
        from sklearn.pipeline import make_pipeline
    else:
        try:
            from xplearn.pipeline import make_pipeline
        except ImportError:  # an xplearn without it
            from sklearn.pipeline import make_pipeline

    return make_pipeline(_estimator(lib, "StandardScaler")(), _logistic(lib, X))


def _logistic(lib, X):
    return _estimator(lib, "LogisticRegression")(max_iter=1000)


def _kmeans(lib, X):
    # the same initial centers for both: the first 8 rows
    return _estimator(lib, "KMeans")(n_clusters=8, init=X[:8].copy(), n_init=1, random_state=0)


def _pca(lib, X):
    return _estimator(lib, "PCA")(n_components=10)


def _knn(lib, X):
    return _estimator(lib, "KNeighborsClassifier")(n_neighbors=5)


def _gaussian_nb(lib, X):
    return _estimator(lib, "GaussianNB")()


_MODULES = {
    "StandardScaler": "preprocessing",
    "LogisticRegression": "linear_model",
    "KMeans": "cluster",
    "PCA": "decomposition",
    "KNeighborsClassifier": "neighbors",
    "GaussianNB": "naive_bayes",
}


def _estimator(lib, name):
    import importlib

    package = "sklearn" if lib == "sklearn" else "xplearn"
    return getattr(importlib.import_module(f"{package}.{_MODULES[name]}"), name)


MODELS = {
    "scaler+logistic": ("StandardScaler+LogisticRegression", _pipeline, True),
    "logistic": ("LogisticRegression", _logistic, True),
    "kmeans": ("KMeans(8)", _kmeans, False),
    "pca": ("PCA(10)", _pca, False),
    "knn": ("KNeighborsClassifier(5)", _knn, True),
    "gaussiannb": ("GaussianNB", _gaussian_nb, True),
}


def _data(n_train, n_batch, dtype):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_train + n_batch,
        n_features=N_FEATURES,
        n_informative=10,
        n_classes=N_CLASSES,
        random_state=0,
    )
    X = X.astype(dtype)
    return X[:n_train].copy(), y[:n_train].copy(), np.ascontiguousarray(X[n_train:])


def _native_method(model):
    return model.transform if not hasattr(model, "predict") else model.predict


# ---------------------------------------------------------------------------------------
# The ONNX side


def _session(model_proto, n_threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()  # default graph optimisation level
    options.intra_op_num_threads = n_threads
    return onnxruntime.InferenceSession(
        model_proto.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _export_xplearn(model, X, with_proba):
    from xplearn.onnx import default_methods, output_names, to_onnx

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    methods = default_methods(final)[:1] if not with_proba else ("predict", "predict_proba")
    names = [name for method in methods for name in output_names(method)]
    return to_onnx(model, X[:1], methods=methods), names


def _export_skl2onnx(model, X, with_proba, classifier):
    from skl2onnx import to_onnx

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    options = {type(final): {"zipmap": False}} if classifier else None
    proto = to_onnx(model, X[:1], options=options)
    outputs = [output.name for output in proto.graph.output]
    # label (classifiers, KMeans) or variable (PCA) comes first; probabilities second
    return proto, outputs[:2] if with_proba else outputs[:1]


def _opsets(proto):
    return {f"{entry.domain or 'ai.onnx'} {entry.version}" for entry in proto.opset_import}


# ---------------------------------------------------------------------------------------
# Measurements


ROUNDS = 10


def one_row_us(calls_by_name, calls, warmup):
    """Median microseconds of each ``call()``: ``warmup`` calls each, then ``calls``
    timed calls each, in ``ROUNDS`` interleaved rounds (a change of machine load hits
    every contender alike)."""
    for call in calls_by_name.values():
        for _ in range(warmup):
            call()
    per_round = max(1, calls // ROUNDS)
    times = {name: [] for name in calls_by_name}
    clock = time.perf_counter
    names = list(calls_by_name)
    gc.disable()
    try:
        for round_ in range(ROUNDS):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                call, record = calls_by_name[name], times[name].append
                for _ in range(per_round):
                    start = clock()
                    call()
                    record(clock() - start)
    finally:
        gc.enable()
    return {name: float(np.median(values)) * 1e6 for name, values in times.items()}


def batch_rows_per_s(calls_by_name, n_rows, repeats):
    """``n_rows`` / median seconds of each ``call()`` over ``repeats`` interleaved runs,
    after one warm-up run each (3 runs at most for a call whose warm-up took over 2 s,
    1 over 10 s)."""
    wanted = {}
    for name, call in calls_by_name.items():
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
        wanted[name] = repeats if first <= 2.0 else min(repeats, 3 if first <= 10.0 else 1)
    times = {name: [] for name in calls_by_name}
    for run in range(repeats):
        for name, call in calls_by_name.items():
            if run < wanted[name]:
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    return {name: n_rows / float(np.median(values)) for name, values in times.items()}


def _sliced(run, names, X, input_name, size):
    def call():
        for start in range(0, X.shape[0], size):
            run(names, {input_name: X[start : start + size]})

    return call


def measure_model(key, dtype, libraries, sizes, repeats, errors):
    """The table rows of one model: the predict row, and for classifiers the +proba row."""
    from xplearn.utils._threads import effective_n_threads

    label, factory, classifier = MODELS[key]
    X, y, X_batch = _data(sizes["n_train"], sizes["n_batch"], dtype)
    row = np.ascontiguousarray(X_batch[:1])
    batch_threads = effective_n_threads()
    fitted = {}
    for lib in ("sklearn", "xplearn"):
        model = factory(lib, X)
        fitted[lib] = model.fit(X, y) if classifier else model.fit(X)

    # every contender as (one-row call, batch call), keyed (library, with_proba)
    contenders, opsets = {}, {}
    for lib in ("sklearn", "xplearn"):
        if lib in libraries:
            method = _native_method(fitted[lib])
            contenders[lib, False] = (
                functools.partial(method, row),
                functools.partial(method, X_batch),
            )
    for with_proba in [False, True] if classifier else [False]:
        for lib in ("ort-xplearn", "ort-skl2onnx"):
            if lib not in libraries:
                continue
            try:
                if lib == "ort-xplearn":
                    proto, names = _export_xplearn(fitted["xplearn"], X, with_proba)
                else:
                    proto, names = _export_skl2onnx(fitted["sklearn"], X, with_proba, classifier)
                single = _session(proto, 1)
                input_name = single.get_inputs()[0].name
                batch = _session(proto, batch_threads)
                if key == "knn":
                    whole = _sliced(batch.run, names, X_batch, input_name, KNN_ORT_SLICE)
                else:
                    whole = functools.partial(batch.run, names, {input_name: X_batch})
                _check_agreement(lib, batch, names, input_name, X_batch, fitted)
                contenders[lib, with_proba] = (
                    functools.partial(single.run, names, {input_name: row}),
                    whole,
                )
                opsets[lib, with_proba] = _opsets(proto)
            except Exception as error:  # a failed conversion is a cell, not a crash
                message = f"{label} {dtype} {lib} ({'+proba' if with_proba else 'predict'}): "
                message += f"{type(error).__name__}: {error}".strip().splitlines()[0][:300]
                errors.append(message)
                print("  " + message, file=sys.stderr)
                traceback.print_exc(limit=2)
                contenders[lib, with_proba] = None

    working = {name: calls for name, calls in contenders.items() if calls is not None}
    latency = one_row_us(
        {name: calls[0] for name, calls in working.items()}, sizes["calls"], sizes["warmup"]
    )
    rate = batch_rows_per_s(
        {name: calls[1] for name, calls in working.items()}, len(X_batch), repeats
    )

    def result(name):
        if name not in contenders:
            return "absent"  # not asked for: the cell stays empty
        if contenders[name] is None:
            return None  # failed
        return (latency[name], rate[name], opsets.get(name, set()))

    rows = []
    for with_proba in [False, True] if classifier else [False]:
        native = {}
        if not with_proba:
            native = {
                lib: result((lib, False))[:2] for lib in ("sklearn", "xplearn") if lib in libraries
            }
        ort = {}
        for lib in ("ort-xplearn", "ort-skl2onnx"):
            value = result((lib, with_proba))
            if value != "absent":
                ort[lib] = value
        rows.append(
            {
                "model": label,
                "key": key,
                "dtype": dtype,
                "outputs": _outputs_label(key, with_proba),
                "native": native,
                "ort": ort,
            }
        )
    return rows


def _outputs_label(key, with_proba):
    return "+proba" if with_proba else ("transform" if key == "pca" else "predict")


def _check_agreement(lib, session, names, input_name, X_batch, fitted):
    """Warn when a graph's labels disagree with its library's native predict."""
    model = fitted["xplearn" if lib == "ort-xplearn" else "sklearn"]
    X = X_batch[:1000]
    got = session.run(names[:1], {input_name: X})[0]
    expected = _native_method(model)(X)
    if got.dtype.kind == "f":
        close = np.allclose(got, expected, rtol=1e-3, atol=1e-3 * float(np.max(np.abs(expected))))
    else:
        close = np.array_equal(got.ravel(), np.asarray(expected).ravel())
    if not close:
        print(f"  warning: {lib} {names[0]} differs from native on 1000 rows", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# Report


def _opset_key(text):
    domain, version = text.rsplit(" ", 1)
    return domain, int(version)


def _versions():
    """The versions of the libraries measured (and xplearn's git commit, where known)."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("xplearn", "scikit-learn", "onnxruntime", "skl2onnx", "ndonnx", "onnx"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} not installed")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "src"],
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        ).returncode
        parts[0] += f" (commit {commit}{', with uncommitted changes in src/' if dirty else ''})"
    except (OSError, subprocess.CalledProcessError):
        pass
    return ", ".join(parts)


def _load():
    """The 1-minute load average, as text ("n/a" where the platform has none)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "n/a"


def _us(value):
    return "-" if value is None else f"{value:.1f}"


def _rate(value):
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1e3:.0f}k" if value >= 1e4 else f"{value / 1e3:.1f}k"


def _ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def _cells(row):
    sk = row["native"].get("sklearn")
    xp = row["native"].get("xplearn")
    ox = row["ort"].get("ort-xplearn")
    os_ = row["ort"].get("ort-skl2onnx")
    failed = {lib for lib, value in row["ort"].items() if value is None}
    sk_us, sk_rate = sk if sk else (None, None)
    xp_us, xp_rate = xp if xp else (None, None)
    ox_us, ox_rate = ox[:2] if ox else (None, None)
    os_us, os_rate = os_[:2] if os_ else (None, None)
    return [
        row["model"],
        row["outputs"],
        row["dtype"],
        _us(sk_us),
        _us(xp_us),
        _ratio(sk_us, xp_us),
        "failed" if "ort-xplearn" in failed else _us(ox_us),
        "failed" if "ort-skl2onnx" in failed else _us(os_us),
        _ratio(os_us, ox_us),
        _rate(sk_rate),
        _rate(xp_rate),
        "failed" if "ort-xplearn" in failed else _rate(ox_rate),
        "failed" if "ort-skl2onnx" in failed else _rate(os_rate),
        _ratio(ox_rate, os_rate),
    ]


HEADER = [
    "model",
    "outputs",
    "dtype",
    "sklearn us",
    "xplearn us",
    "speed-up",
    "ORT-xp us",
    "ORT-skl2onnx us",
    "1-row ratio",
    "sklearn rows/s",
    "xplearn rows/s",
    "ORT-xp rows/s",
    "ORT-skl2onnx rows/s",
    "batch ratio",
]


def render_table(rows):
    lines = [_cells(row) for row in rows]
    return simple_table(HEADER, lines)


def targets_summary(rows):
    """Lines saying whether each issue-#6 target is met by this run."""
    lines = []
    for row in rows:
        name = f"{row['model']} {row['dtype']}"
        sk, xp = row["native"].get("sklearn"), row["native"].get("xplearn")
        if sk and xp:
            speedup = sk[0] / xp[0]
            verdict = "met" if speedup >= TARGET_NATIVE_SPEEDUP else "NOT met"
            lines.append(
                f"{name}: native one-row predict {speedup:.1f}x scikit-learn's "
                f"(target >= {TARGET_NATIVE_SPEEDUP:.0f}x): {verdict}"
            )
        ox, os_ = row["ort"].get("ort-xplearn"), row["ort"].get("ort-skl2onnx")
        if ox and os_:
            one, batch = os_[0] / ox[0], ox[1] / os_[1]
            verdict = "met" if one >= 1.0 and batch >= 1.0 else "NOT met"
            if verdict != "met" and min(one, batch) >= 0.97:
                verdict += " (within 3%, about the noise of a one-row median)"
            lines.append(
                f"{name} {row['outputs']}: ONNX one row {one:.2f}x, 100k batch {batch:.2f}x "
                f"skl2onnx's speed (target >= 1x): {verdict}"
            )
    return lines


def write_rst(path, table, command, note, quick, targets, remark, sizes, opsets, errors):
    title = "Serving latency benchmark"
    errors_text = ""
    if errors:
        listed = "\n".join(f"* {error}" for error in errors)
        errors_text = f"\nConversions or runs that failed (``failed`` in the table):\n\n{listed}\n"
    opset_text = "\n".join(
        f"* {lib}: {', '.join(sorted(opset, key=_opset_key))}"
        for lib, opset in sorted(opsets.items())
    )
    text = f"""{title}
{"=" * len(title)}

How fast one prediction is, the number that matters when a model serves requests: for
each model, scikit-learn's and xplearn's twins (same hyper-parameters, fitted on the same
``make_classification`` data: {sizes["n_train"]:,} rows, {N_FEATURES} features,
{N_CLASSES} classes), called natively and through onnxruntime.

Models: ``make_pipeline(StandardScaler(), LogisticRegression())`` (scikit-learn's
``sklearn.pipeline.make_pipeline`` of scikit-learn estimators vs
``xplearn.pipeline.make_pipeline`` of xplearn estimators: scikit-learn's ``Pipeline``
whose inference calls the xplearn steps directly), ``LogisticRegression``, ``KMeans(n_clusters=8)``
(``predict``), ``PCA(n_components=10)`` (``transform``),
``KNeighborsClassifier(n_neighbors=5)`` (fitted on {sizes["n_train"]:,} rows) and
``GaussianNB``.

* **us** columns: median microseconds of a one-row call, {sizes["calls"]:,} calls after
  {sizes["warmup"]} warm-up calls, ``time.perf_counter`` around each call, the same
  C-contiguous one-row array each time. A model's contenders are timed in {ROUNDS}
  interleaved rounds (and their batch runs interleaved too), so that a change of machine
  load hits them alike. ``sklearn`` / ``xplearn``: the estimator's
  ``predict`` (``transform`` for PCA). ``ORT-xp``: onnxruntime on
  ``xplearn.onnx.to_onnx``'s export; ``ORT-skl2onnx``: onnxruntime on skl2onnx's export
  of the scikit-learn twin; only ``session.run(output_names, feeds)`` is timed.
* **speed-up**: scikit-learn's time over xplearn's (native, one row).
* **1-row ratio**: skl2onnx's graph's time over xplearn's graph's (above 1: xplearn's
  graph is faster).
* **rows/s**: {sizes["n_batch"]:,} / median seconds of one {sizes["n_batch"]:,}-row call
  ({sizes["repeats"]} runs after a warm-up run; at most 3 when a run takes over 2 s, 1 over 10 s);
  **batch ratio**: xplearn's graph's rows/s over skl2onnx's (above 1: xplearn's
  faster). onnxruntime gets the KNeighborsClassifier batch in {KNN_ORT_SLICE:,}-row
  slices (both graphs alike): a whole batch would hold a
  {sizes["n_batch"]:,} x {sizes["n_train"]:,} distance matrix.

The graphs compute the same thing. ``outputs = predict``: xplearn exports
``methods=("predict",)``; skl2onnx converts with ``options={{"zipmap": False}}`` for
classifiers and the session is asked for its ``label`` output only (for PCA,
``transform`` and skl2onnx's ``variable``). ``outputs = +proba`` (classifiers): both
graphs give the labels and the probabilities (xplearn
``methods=("predict", "predict_proba")``; skl2onnx ``label`` and ``probabilities``),
which serving usually wants; the native columns are left empty in those rows.

onnxruntime: one ``InferenceSession`` per graph on the ``CPUExecutionProvider``, default
graph optimisations, ``intra_op_num_threads=1`` for the one-row timings and xplearn's
thread count for the batches, identical for both graphs (``xplearn.onnx.InferenceSession``
with ``n_threads=1`` sets up the same session). Opsets of the graphs (skl2onnx converts
with its default ``target_opset``, an upper bound: each of its graphs gets the lowest
opset its operators need):

{opset_text}
{errors_text}
"""
    write_page(
        path,
        text,
        table=table,
        command=command,
        note=note,
        quick=quick,
        targets=targets,
        remark=remark,
        issue=6,
    )


# ---------------------------------------------------------------------------------------


def _shown(argv):
    """The arguments as a shell would need them, less ``--remark`` (not a measurement
    setting)."""
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == "--remark":
            skip = True
        elif not argument.startswith("--remark="):
            kept.append(argument)
    return shlex.join(kept)


def main(argv=None):
    arguments = parser(__doc__.split("\n\n")[0], LIBRARIES, DOC, 1)
    arguments.set_defaults(dtypes=["float32"])
    arguments.add_argument(
        "--dtype", choices=["float32", "float64"], default=None, help="shorthand for --dtypes"
    )
    arguments.add_argument(
        "--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="a subset"
    )
    args = arguments.parse_args(argv)
    if args.memory_probe:  # the common command line has it; nothing to probe here
        return
    dtypes = [args.dtype] if args.dtype else args.dtypes
    warnings.simplefilter("ignore")
    sizes = (
        dict(QUICK)
        if args.quick
        else {"n_train": N_TRAIN, "n_batch": N_BATCH, "calls": CALLS, "warmup": WARMUP}
    )
    repeats = args.repeats or (3 if args.quick else 5)
    sizes["repeats"] = repeats
    libraries = set(args.libraries)
    note = f"{threads_note()}; {_versions()}"
    load_before = _load()
    print(f"{note}; one row: {sizes['calls']} calls after {sizes['warmup']} warm-up calls")

    rows, errors, opsets = [], [], {}
    for dtype in dtypes:
        for key in args.models:
            new = measure_model(key, dtype, libraries, sizes, repeats, errors)
            for row in new:
                for lib, value in row["ort"].items():
                    if value is not None:
                        opsets.setdefault(lib, set()).update(value[2])
            rows += new
            print(render_table(new), flush=True)

    load = f"load average (1 min) {load_before} at the start, {_load()} at the end"
    table = render_table(rows)
    targets = targets_summary(rows)
    print(load)
    print()
    print(table)
    print()
    print("\n".join(targets))
    if errors:
        print("\nfailed:\n" + "\n".join(errors))
    if not args.no_write:
        command = "python benchmarks/bench_latency.py " + _shown(
            sys.argv[1:] if argv is None else argv
        )
        output = args.output or DOC
        write_rst(
            output,
            table,
            command.strip(),
            f"{note}; {load}",
            args.quick,
            targets,
            args.remark,
            sizes,
            opsets,
            errors,
        )
        print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
