"""The command line: ``python -m xplearn info`` and ``python -m xplearn demo``.

``info`` reports versions, the backends and devices found, and who owns the CPU threads
(numba's threading layer, xplearn's thread count, the BLAS and OpenMP libraries loaded).
``demo`` fits every public estimator on every available backend and prints, as a table,
how far each backend's output is from NumPy's and how long fit + predict took.

Optional array libraries (torch, CuPy, Dask, array-api-strict, ONNX) are imported only
inside these commands, never when ``xplearn`` itself is imported.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

PROG = "python -m xplearn"

#: (label, distribution names to try) of the libraries xplearn depends on.
_CORE_LIBRARIES = (
    ("numpy", ("numpy",)),
    ("scipy", ("scipy",)),
    ("scikit-learn", ("scikit-learn",)),
    ("array-api-compat", ("array-api-compat", "array_api_compat")),
    ("array-api-extra", ("array-api-extra", "array_api_extra")),
    ("numba", ("numba",)),
    ("threadpoolctl", ("threadpoolctl",)),
)

#: Optional libraries: reported as "not installed" when absent.
_OPTIONAL_LIBRARIES = (
    ("torch", ("torch",)),
    ("cupy", ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy")),
    ("dask", ("dask",)),
    ("array_api_strict", ("array-api-strict", "array_api_strict")),
    ("onnx", ("onnx",)),
    ("ndonnx", ("ndonnx",)),
    ("onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
)

NOT_INSTALLED = "not installed"


# --------------------------------------------------------------------------- helpers


def _distribution_version(names: Sequence[str]) -> str | None:
    """Version of the first installed distribution among ``names`` (no import)."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Left-aligned text table with a dashed rule under the header."""
    widths = [len(cell) for cell in header]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return (
            indent
            + "  ".join(
                cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
            ).rstrip()
        )

    rule = indent + "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _key_values(pairs: Sequence[tuple[str, str]], indent: str = "  ") -> str:
    width = max((len(key) for key, _ in pairs), default=0)
    return "\n".join(f"{indent}{key.ljust(width)} : {value}" for key, value in pairs)


def _short_error(error: BaseException, limit: int = 60) -> str:
    text = (
        f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _device_name(device: Any) -> str:
    """``"device1"`` for ``array_api_strict.Device('device1')``, ``str(device)`` otherwise."""
    text = str(device)
    match = re.fullmatch(r"[\w.]*Device\('([^']*)'\)", text)
    return match.group(1) if match else text


def _section(title: str) -> str:
    return f"\n{title}\n{'=' * len(title)}"


# --------------------------------------------------------------------------- info


def _versions_report() -> str:
    import xplearn

    pairs = [
        ("xplearn", xplearn.__version__),
        ("python", f"{platform.python_version()} ({sys.executable})"),
    ]
    for label, names in _CORE_LIBRARIES:
        pairs.append((label, _distribution_version(names) or NOT_INSTALLED))
    for label, names in _OPTIONAL_LIBRARIES:
        pairs.append((label, _distribution_version(names) or NOT_INSTALLED))
    pairs.append(("platform", f"{platform.platform()} ({platform.machine()})"))
    return _key_values(pairs)


def _backends_report() -> str:
    from xplearn._xp import supports_float64
    from xplearn.testing import available_backends

    lines = []
    wanted = os.environ.get("XPLEARN_BACKENDS", "").strip()
    if wanted:
        lines.append(f"  XPLEARN_BACKENDS={wanted} narrows the list below.")
    try:
        backends = available_backends()
    except Exception as error:  # an unknown name in XPLEARN_BACKENDS, a broken install
        return "\n".join([*lines, f"  error: {_short_error(error, 200)}"])
    rows = []
    for backend in backends:
        try:
            device = _device_name(backend.device)
            float64 = "yes" if backend.has_float64 else "no"
        except Exception as error:
            device, float64 = f"error: {_short_error(error)}", "?"
        rows.append([backend.id, backend.name, device, float64])
    lines.append(_format_table(["backend", "namespace", "device", "float64"], rows, "  "))

    devices: list[tuple[str, str]] = []
    if _distribution_version(("array-api-strict", "array_api_strict")) is not None:
        try:
            import array_api_strict

            found = []
            for device in array_api_strict.__array_namespace_info__().devices():
                name = _device_name(device)
                if not supports_float64(array_api_strict, device):
                    name += " (no float64)"
                found.append(name)
            devices.append(("array_api_strict devices", ", ".join(found)))
        except Exception as error:
            devices.append(("array_api_strict devices", f"error: {_short_error(error)}"))
    if _distribution_version(("torch",)) is not None:
        devices.append(("torch CUDA", _torch_cuda_devices()))
    if _distribution_version(_OPTIONAL_LIBRARIES[1][1]) is not None:
        devices.append(("cupy CUDA", _cupy_devices()))
    if devices:
        lines.append("")
        lines.append(_key_values(devices))
    return "\n".join(lines)


def _torch_cuda_devices() -> str:
    try:
        import torch

        if not torch.cuda.is_available():
            build = torch.version.cuda
            return "no CUDA device" + ("" if build else " (CPU-only build)")
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return ", ".join(f"cuda:{i} {name}" for i, name in enumerate(names))
    except Exception as error:
        return f"error: {_short_error(error)}"


def _cupy_devices() -> str:
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
        if count == 0:
            return "no CUDA device"
        names = []
        for i in range(count):
            properties = cupy.cuda.runtime.getDeviceProperties(i)
            name = properties["name"]
            names.append(f"{i} {name.decode() if isinstance(name, bytes) else name}")
        return ", ".join(names)
    except Exception as error:
        return f"no CUDA device ({_short_error(error)})"


def _numba_threading() -> list[tuple[str, str]]:
    """Numba's thread count and layer; the layer is chosen when a parallel function runs."""
    try:
        import numba
        import numpy as np

        @numba.njit(parallel=True, cache=False)
        def _parallel_sum(values):  # pragma: no cover - compiled by numba
            total = 0.0
            for i in numba.prange(values.shape[0]):
                total += values[i]
            return total

        _parallel_sum(np.ones(64))
        layer = numba.threading_layer()
    except Exception as error:
        return [("numba threading layer", f"error: {_short_error(error)}")]
    return [
        ("numba threading layer", f"{layer} (requested: {numba.config.THREADING_LAYER})"),
        ("numba threads", str(numba.get_num_threads())),
    ]


def _threads_report() -> str:
    from xplearn import get_config
    from xplearn.utils._threads import available_cpus, effective_n_threads

    pairs = [
        ("CPUs available", str(available_cpus())),
        ("xplearn effective threads", str(effective_n_threads())),
        ("xplearn config n_threads", str(get_config()["n_threads"])),
    ]
    pairs += _numba_threading()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if variable in os.environ:
            pairs.append((variable, os.environ[variable]))
    return _key_values(pairs)


def _threadpools_report() -> str:
    from threadpoolctl import threadpool_info

    rows = []
    for pool in threadpool_info():
        rows.append(
            [
                str(pool.get("user_api", "")),
                str(pool.get("internal_api", "")),
                str(pool.get("num_threads", "")),
                str(pool.get("version", "")),
                os.path.basename(str(pool.get("filepath", ""))),
            ]
        )
    if not rows:
        return "  no BLAS or OpenMP library found"
    header = ["user_api", "internal_api", "num_threads", "version", "library"]
    return _format_table(header, rows, "  ")


def _config_report() -> str:
    from xplearn import get_config

    return _key_values([(key, repr(value)) for key, value in get_config().items()])


def run_info(args: argparse.Namespace) -> int:
    """Print versions, backends and devices, thread settings and thread pools."""
    print("xplearn environment")
    print(_section("Versions"))
    print(_versions_report())
    print(_section("Backends and devices"))
    print(_backends_report())
    print(_section("Threads"))
    print(_threads_report())
    print(_section("BLAS and OpenMP (threadpoolctl)"))
    print(_threadpools_report())
    print(_section("Configuration"))
    print(_config_report())
    return 0


# --------------------------------------------------------------------------- demo


def _main_method(estimator: Any) -> str:
    """The output the demo compares: predict for predictors, transform for transformers."""
    from sklearn.base import is_classifier, is_clusterer, is_regressor

    if is_classifier(estimator):
        return "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
    if is_regressor(estimator) or (is_clusterer(estimator) and hasattr(estimator, "predict")):
        return "predict"
    if hasattr(estimator, "transform"):
        return "transform"
    return "predict"


def _make_data(kind: str, n_samples: int, n_features: int) -> tuple[Any, Any]:
    """Synthetic float64 data (and target) for one kind of estimator, as NumPy arrays."""
    from sklearn.datasets import make_blobs, make_classification, make_regression

    if kind == "classifier":
        return make_classification(
            n_samples=n_samples,
            n_features=n_features,
            n_informative=min(n_features, 5),
            n_redundant=0,
            n_classes=3,
            random_state=0,
        )
    if kind == "cluster":
        return make_blobs(n_samples=n_samples, n_features=n_features, centers=4, random_state=0)
    return make_regression(n_samples=n_samples, n_features=n_features, noise=1.0, random_state=0)


def _kind(estimator: Any) -> str:
    from sklearn.base import is_classifier, is_clusterer

    if is_classifier(estimator):
        return "classifier"
    if is_clusterer(estimator):
        return "cluster"
    return "regression"


def _new_estimator(cls: type) -> Any:
    estimator = cls()
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    return estimator


def _fit_and_output(
    cls: type, method: str, backend: Any, X: Any, y: Any, repeat: int
) -> tuple[Any, float, str]:
    """Fit on ``backend``, compute the main output; best wall time over ``repeat`` runs.

    The timed region includes moving the output to host memory, so lazy (Dask) and
    asynchronous (CUDA) backends are timed for the finished computation.
    """
    from xplearn._xp import to_numpy

    X_backend = backend.asarray(X)
    y_backend = None if y is None else backend.asarray(y)
    best = float("inf")
    host = out_dtype = None
    for _ in range(max(1, repeat)):
        estimator = _new_estimator(cls)
        start = time.perf_counter()
        estimator.fit(X_backend, y_backend)
        output = getattr(estimator, method)(X_backend)
        host = to_numpy(output)
        best = min(best, time.perf_counter() - start)
        out_dtype = str(getattr(output, "dtype", type(output).__name__))
    return host, best * 1000.0, out_dtype.rsplit(".", 1)[-1]


def _max_abs_difference(actual: Any, desired: Any) -> str:
    import numpy as np

    actual = np.asarray(actual)
    desired = np.asarray(desired)
    if actual.shape != desired.shape:
        return f"shape {actual.shape} != {desired.shape}"
    if actual.size == 0:
        return "0"
    difference = np.max(np.abs(actual.astype(np.float64) - desired.astype(np.float64)))
    return f"{difference:.1e}"


def run_demo(args: argparse.Namespace) -> int:
    """Fit every public estimator on every backend; print agreement and timings."""
    import warnings

    import numpy as np

    from xplearn.testing import Backend, available_backends
    from xplearn.utils.discovery import all_estimators

    estimators = all_estimators()
    if args.estimator:
        wanted = set(args.estimator)
        estimators = [(name, cls) for name, cls in estimators if name in wanted]
    try:
        backends = available_backends()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reference = Backend("numpy", "numpy")
    if all(backend.id != reference.id for backend in backends):
        backends = [reference, *backends]

    print(
        f"xplearn demo: {len(estimators)} estimators x {len(backends)} backends, "
        f"{args.n_samples} x {args.n_features} synthetic data"
    )
    print(f"backends: {', '.join(backend.id for backend in backends)}\n")

    header = ["estimator", "output", "backend", "dtype", "out dtype", "ms", "max|diff| vs numpy"]
    rows: list[list[str]] = []
    errors: list[str] = []
    data_cache: dict[str, tuple[Any, Any]] = {}
    started = time.perf_counter()

    def record_error(name: str, backend_id: str, dtype: str, error: BaseException) -> str:
        errors.append(f"{name} on {backend_id} ({dtype}): {type(error).__name__}: {error}")
        return f"error: {_short_error(error)}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # keep the table readable; the tests see warnings
        for name, cls in estimators:
            try:
                probe = _new_estimator(cls)
                method, kind = _main_method(probe), _kind(probe)
            except Exception as error:
                rows.append([name, "?", "-", "-", "-", "-", record_error(name, "-", "-", error)])
                continue
            if kind not in data_cache:
                data_cache[kind] = _make_data(kind, args.n_samples, args.n_features)
            X64, y = data_cache[kind]
            if kind == "regression":
                y64: Any = y
            elif kind == "cluster":
                y64 = None
            else:
                y64 = y.astype(np.int64)
            for dtype_name in ("float64", "float32"):
                X = X64.astype(dtype_name)
                y_typed = y64.astype(dtype_name) if kind == "regression" else y64
                expected = None
                for backend in backends:
                    if dtype_name == "float64" and not _has_float64(backend):
                        continue
                    row = [name, method, backend.id, dtype_name]
                    try:
                        output, ms, out_dtype = _fit_and_output(
                            cls, method, backend, X, y_typed, args.repeat
                        )
                    except Exception as error:
                        rows.append(
                            [*row, "-", "-", record_error(name, backend.id, dtype_name, error)]
                        )
                        continue
                    if backend.id == reference.id:
                        expected = output
                        agreement = "(reference)"
                    elif expected is None:
                        agreement = "n/a (numpy failed)"
                    else:
                        agreement = _max_abs_difference(output, expected)
                    rows.append([*row, out_dtype, f"{ms:.1f}", agreement])

    print(_format_table(header, rows))
    elapsed = time.perf_counter() - started
    print(
        f"\nms: fit + {'/'.join(sorted({row[1] for row in rows}))} wall time, best of "
        f"{args.repeat}, including moving the output to host memory (Dask computes)."
    )
    if errors:
        print(f"\n{len(errors)} error(s):")
        for message in errors:
            print(f"  - {message}")
    print(f"\ndone in {elapsed:.1f} s")
    return 0


def _has_float64(backend: Any) -> bool:
    try:
        return bool(backend.has_float64)
    except Exception:
        return False


# --------------------------------------------------------------------------- entry point


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="xplearn: environment report and cross-backend demo.",
        epilog="Set XPLEARN_BACKENDS (e.g. 'numpy,torch') to narrow the backends.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{info,demo}")
    info = commands.add_parser(
        "info", help="versions, backends and devices, threads, BLAS/OpenMP libraries"
    )
    info.set_defaults(handler=run_info)
    demo = commands.add_parser(
        "demo", help="fit every estimator on every backend; agreement and timings"
    )
    demo.add_argument("--n-samples", type=_positive_int, default=2000, help="default 2000")
    demo.add_argument("--n-features", type=_positive_int, default=20, help="default 20")
    demo.add_argument(
        "--repeat", type=_positive_int, default=2, help="timed runs; the best is shown"
    )
    demo.add_argument(
        "--estimator",
        action="append",
        metavar="NAME",
        help="only this estimator (repeatable); default: all",
    )
    demo.set_defaults(handler=run_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for a missing or unknown command (usage is printed).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return int(exit_.code or 0)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required: info or demo", file=sys.stderr)
        return 2
    return handler(args)
