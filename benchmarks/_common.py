"""What the benchmark scripts share: the machine's matmul peak, peak-RSS reading, the
thread note, the command line, and the end of the RST page (machine, command, table,
targets)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np


def timed(function):
    """Seconds of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def matmul_peak(dtype, size):
    """GFLOP/s of ``np.dot`` on two size x size matrices (best of 3, all threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    np.dot(a, b)
    best = min(timed(lambda: np.dot(a, b)) for _ in range(3))
    return 2 * size**3 / best / 1e9


def read_status(field):
    """A ``/proc/self/status`` field in KiB (e.g. ``VmHWM``), None where unavailable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def threads_note():
    """xplearn's thread count and the native thread pools, for the page."""
    from threadpoolctl import threadpool_info

    from xplearn.utils._threads import effective_n_threads

    pools = sorted(
        {
            f"{pool['internal_api']}={pool['num_threads']}"
            + (f" ({pool['architecture']})" if pool.get("architecture") else "")
            for pool in threadpool_info()
        }
    )
    return f"xplearn/numba threads={effective_n_threads()}; " + ", ".join(pools)


def cpu_note():
    """The CPU's model name and its widest vector extension (Linux), for the page."""
    name = platform.processor() or platform.machine()
    flags = set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name") and ":" in line:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line:
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    blas_env = ", ".join(
        f"{key}={os.environ[key]}"
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        if key in os.environ
    )
    return ", ".join(part for part in (name, widest, blas_env) if part)


def parser(description, libraries, doc, n_probe_args):
    """The command line every benchmark script takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    result.add_argument("--repeats", type=int, default=None, help="timed runs per library")
    result.add_argument("--no-memory", action="store_true", help="skip memory subprocesses")
    result.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    result.add_argument("--libraries", nargs="+", default=list(libraries))
    result.add_argument("--output", type=Path, default=None, help=f"RST file (default {doc})")
    result.add_argument("--no-write", action="store_true", help="do not write the RST page")
    result.add_argument("--remark", default="", help="free text added to the RST page")
    result.add_argument("--memory-probe", nargs=n_probe_args, help=argparse.SUPPRESS)
    return result


def simple_table(header, lines):
    """An RST simple table of string cells (columns as wide as their longest cell)."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    border = "  ".join("=" * w for w in widths)
    out = [
        border,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        border,
    ]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    out.append(border)
    return "\n".join(out)


def rst_tail(*, table, command, note, quick, targets, remark, issue):
    """The end of a benchmark page: machine, command, table, the issue's targets."""
    smoke = "Quick smoke run (small shapes): not representative." if quick else ""
    indented = "\n".join("   " + line for line in table.splitlines())
    listed = "\n".join("* " + line for line in targets) if targets else "* (none evaluated)"
    return f"""{smoke}
{remark}

Machine: {platform.machine()}, {cpu_note()}, {os.cpu_count()} CPUs ({note});
Python {platform.python_version()}; measured {datetime.date.today().isoformat()}.

Command::

    {command}

.. table::
   :widths: auto

{indented}

Targets of issue #{issue} in this run:

{listed}
"""


def write_page(path, head, **tail):
    """Write a benchmark page: its own ``head`` text, then :func:`rst_tail` of ``tail``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + rst_tail(**tail))
