"""``python -m xplearn``: info, demo, usage errors, and lazy optional imports."""

import json
import os
import re
import subprocess
import sys

import pytest

from xplearn._cli import main
from xplearn.testing import available_backends

OPTIONAL_MODULES = ("torch", "dask", "cupy", "onnx", "ndonnx", "onnxruntime")


def run_xplearn(*args, env=None, timeout=180):
    """Run ``python -m xplearn ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "xplearn", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_info_reports_versions_backends_and_threads():
    result = run_xplearn("info")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for library in (
        "xplearn",
        "python",
        "numpy",
        "scipy",
        "scikit-learn",
        "array-api-compat",
        "array-api-extra",
        "numba",
        "threadpoolctl",
        "torch",
        "cupy",
        "dask",
        "array_api_strict",
        "onnx",
        "ndonnx",
        "onnxruntime",
    ):
        assert f"\n  {library} " in out, f"no version line for {library}"
    assert "Backends and devices" in out
    backends_section = out.split("Backends and devices")[1].split("Threads")[0]
    for backend in available_backends():  # narrowed by XPLEARN_BACKENDS, like the command
        assert f"\n  {backend.id} " in backends_section
    assert "numba threading layer" in out
    assert "xplearn effective threads" in out
    assert "internal_api" in out


def test_info_says_not_installed(monkeypatch):
    from xplearn import _cli

    monkeypatch.setattr(
        _cli, "_OPTIONAL_LIBRARIES", (("surely_absent", ("surely-absent-dist-xyz",)),)
    )
    assert re.search(r"surely_absent +: not installed", _cli._versions_report())


def test_info_survives_bad_backends_env():
    env = dict(os.environ, XPLEARN_BACKENDS="no-such-backend")
    result = run_xplearn("info", env=env)
    assert result.returncode == 0, result.stderr
    assert "error:" in result.stdout


def test_demo_table():
    result = run_xplearn("demo", "--n-samples", "300", "--n-features", "5", "--repeat", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("estimator"))
    assert "max|diff| vs numpy" in header
    scaler_rows = [line.split() for line in lines if line.startswith("StandardScaler ")]
    backends = {row[2] for row in scaler_rows}
    assert "numpy" in backends
    assert {"float32", "float64"} <= {row[3] for row in scaler_rows}
    assert not any("error:" in " ".join(row) for row in scaler_rows), result.stdout
    for row in scaler_rows:
        if row[2] != "numpy":
            assert float(row[-1]) < 1e-3, row


def test_demo_reports_errors_instead_of_crashing(monkeypatch, capsys):
    from xplearn import _cli
    from xplearn.preprocessing import StandardScaler

    class BrokenScaler(StandardScaler):
        def fit(self, X, y=None, sample_weight=None):
            raise RuntimeError("boom")

    monkeypatch.setattr(
        "xplearn.utils.discovery.all_estimators", lambda: [("BrokenScaler", BrokenScaler)]
    )
    monkeypatch.setenv("XPLEARN_BACKENDS", "numpy")
    assert _cli.main(["demo", "--n-samples", "50", "--n-features", "3", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "error: RuntimeError: boom" in out
    assert "BrokenScaler on numpy (float64): RuntimeError: boom" in out


@pytest.mark.parametrize("args", [(), ("frobnicate",)])
def test_usage_errors_exit_2(args):
    result = run_xplearn(*args)
    assert result.returncode == 2
    assert "usage: python -m xplearn" in result.stderr


def test_main_returns_2_without_command(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_import_does_not_import_optional_libraries():
    code = (
        "import json, sys\n"
        "import xplearn\n"
        "from xplearn.utils.discovery import all_estimators\n"
        "all_estimators()\n"
        f"print(json.dumps([m for m in {OPTIONAL_MODULES!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
