"""nox sessions: one test session per backend, plus lint, docs and bench.

``nox -l`` lists them; ``nox`` alone runs lint and the NumPy tests. Each test session runs
the whole suite with ``XPLEARN_BACKENDS`` set to one backend, so a failure names its
backend. The GPU sessions skip cleanly (exit 0) on a machine without a CUDA device.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parent

nox.options.sessions = ["lint", "tests-numpy"]

#: CPU test sessions: session name suffix -> XPLEARN_BACKENDS value.
CPU_BACKENDS = {
    "numpy": "numpy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "dask": "dask",
}


def _extra(name: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """The requirements of extra ``name`` in pyproject.toml, less those named in ``exclude``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][name]
    return [
        requirement
        for requirement in requirements
        if not any(requirement.startswith(name) for name in exclude)
    ]


def _pytest(session: nox.Session, backends: str) -> None:
    session.run("python", "-m", "pytest", *session.posargs, env={"XPLEARN_BACKENDS": backends})


def _cpu_test_session(name: str, backends: str) -> None:
    @nox.session(name=f"tests-{name}")
    def tests(session: nox.Session) -> None:
        # the test extra pins torch==2.13.0, the CPU build (a local wheel on our machines)
        session.install("-e", ".[test]")
        _pytest(session, backends)

    tests.__doc__ = f"Run the test suite on the {name} backend (XPLEARN_BACKENDS={backends})."


for _name, _backends in CPU_BACKENDS.items():
    _cpu_test_session(_name, _backends)


# The GPU sessions must not install the CPU torch pin of the test extra: on a GPU machine
# that would shadow the CUDA build of torch (and from PyPI it pulls gigabytes of CUDA
# wheels). They therefore create their virtualenv with --system-site-packages, so the
# machine's preinstalled CUDA torch (and CuPy, when present) is used as is, and install
# xplearn and the test extra *without* torch on top of it.

_PROBE_TORCH_CUDA = """
try:
    import torch
except ImportError as error:
    print(f"no torch importable ({error})")
else:
    if torch.cuda.is_available():
        print("ok", torch.__version__, torch.cuda.get_device_name(0))
    else:
        build = torch.version.cuda or "a CPU-only build"
        print(f"torch {torch.__version__} ({build}) sees no GPU: torch.cuda.is_available() is False")
"""

_PROBE_CUPY = """
try:
    import cupy
    count = cupy.cuda.runtime.getDeviceCount()
except Exception as error:
    print(f"CuPy cannot reach a GPU ({type(error).__name__}: {error})")
else:
    print("ok", cupy.__version__, count, "device(s)") if count else print("CuPy sees 0 devices")
"""


def _probe(session: nox.Session, code: str) -> str:
    """Run ``code`` in the session's interpreter; return its last line of output."""
    output = session.run("python", "-c", code, silent=True) or ""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output from the device probe"


@nox.session(name="tests-torch_cuda", venv_params=["--system-site-packages"])
def tests_torch_cuda(session: nox.Session) -> None:
    """Run the test suite on torch CUDA tensors; skip without a CUDA device."""
    status = _probe(session, _PROBE_TORCH_CUDA)
    if not status.startswith("ok"):
        session.skip(f"no CUDA device: {status}")
    session.log(f"CUDA found: {status}")
    session.install("-e", ".", *_extra("test", exclude=("torch",)))
    _pytest(session, "torch-cuda")


@nox.session(name="tests-cupy", venv_params=["--system-site-packages"])
def tests_cupy(session: nox.Session) -> None:
    """Run the test suite on CuPy arrays; skip without a CUDA device."""
    if shutil.which("nvidia-smi") is None:
        session.skip("no CUDA device: nvidia-smi not found, so cupy-cuda12x is not installed")
    status = _probe(session, _PROBE_CUPY)
    if not status.startswith("ok"):
        session.install("cupy-cuda12x>=13")
        status = _probe(session, _PROBE_CUPY)
    if not status.startswith("ok"):
        session.skip(f"no CUDA device: {status}")
    session.log(f"CUDA found: {status}")
    session.install("-e", ".", *_extra("test", exclude=("torch",)))
    _pytest(session, "cupy")


@nox.session
def lint(session: nox.Session) -> None:
    """Run ruff's linter and check the formatting."""
    session.install(*_extra("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs offline; any Sphinx warning is an error."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html",
        *session.posargs,
    )  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmarks/bench_*.py script (``_common.py`` holds their shared helpers)."""
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    if not scripts:
        session.skip("no benchmarks/*.py to run yet")
    session.install("-e", ".[bench]")
    for script in scripts:
        session.run("python", str(script.relative_to(ROOT)), *session.posargs)
