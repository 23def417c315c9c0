"""L-BFGS written once against the Array API, with a Moré-Thuente line search.

:func:`minimize_lbfgs` minimizes a smooth function whose value and gradient come from one
call, ``fun_and_grad(x) -> (f, g)``, with ``x`` a 1-D array of any namespace. Every vector
(the iterate, the gradient, the search direction and the ``m`` correction pairs) stays in
that namespace and on that device; what crosses to the host is a handful of scalars per
function evaluation (the value, the slope along the search direction and the largest
gradient entry, in one transfer) and the slope at the start of each line search: the
control flow of the line search runs on Python floats.

On a lazy backend (Dask) the value and gradient of one evaluation are computed together,
in one pass over the data, and the small optimizer vectors (iterate, gradient, memory)
are kept as NumPy arrays in memory: a graph per vector operation would cost far more
than the operation.

The iteration mirrors L-BFGS-B (Byrd, Lu, Nocedal & Zhu, 1995; the code behind
``scipy.optimize.minimize(method="L-BFGS-B")``) without bounds, so that results agree with
scikit-learn's ``lbfgs`` solvers:

* direction: the two-loop recursion (Nocedal & Wright, Alg. 7.4) over the last ``m``
  pairs, initial inverse Hessian ``(s'y / y'y) I``; a pair with ``s'y <= eps * (-g's)``
  is skipped;
* line search: Moré & Thuente (1994), MINPACK-2's ``dcsrch``, with sufficient decrease
  ``c1 = 1e-3``, curvature ``c2 = 0.9`` (strong Wolfe conditions) and ``xtol = 0.1``;
  first step ``1 / ||g||`` on the first iteration, 1 afterwards;
* stopping: ``max|g| <= pgtol`` (scipy's ``gtol``/``pgtol``), or a relative decrease of
  the function ``(f_old - f) / max(|f_old|, |f|, 1) <= ftol``, or ``max_iter``
  iterations (checked first, as scipy does);
* a failed line search restarts from steepest descent with an empty memory, and stops
  (status 2) when it fails with an empty memory.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

from xplearn._xp import array_namespace, numpy_namespace, to_numpy
from xplearn._xp._ops import is_lazy

__all__ = [
    "IterationInfo",
    "LbfgsResult",
    "MoreThuente",
    "minimize_lbfgs",
]

#: ``status`` values of :class:`LbfgsResult`.
CONVERGED, MAX_ITER, LINE_SEARCH_FAILED = 0, 1, 2

_MESSAGES = {
    "pgtol": "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL",
    "ftol": "CONVERGENCE: REL_REDUCTION_OF_F <= FACTR*EPSMCH",
    "max_iter": "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
    "line_search": "ABNORMAL: the line search found no step satisfying the Wolfe conditions",
}

#: Largest step the line search may take (L-BFGS-B's ``stpmx`` without bounds).
_STEP_MAX = 1e10


class LbfgsResult(NamedTuple):
    """What :func:`minimize_lbfgs` returns.

    Attributes
    ----------
    x : array
        The solution, in the namespace and on the device of ``x0``.
    fun : float
        The function value at ``x``.
    grad : array
        The gradient at ``x``.
    n_iter : int
        Iterations done (accepted line-search steps).
    n_eval : int
        Function (and gradient) evaluations.
    status : int
        0: converged; 1: ``max_iter`` reached; 2: the line search failed.
    message : str
        Why the iteration stopped.
    """

    x: Any
    fun: float
    grad: Any
    n_iter: int
    n_eval: int
    status: int
    message: str

    @property
    def converged(self) -> bool:
        """Whether a convergence criterion was met."""
        return self.status == CONVERGED


class IterationInfo(NamedTuple):
    """Passed to the ``callback`` of :func:`minimize_lbfgs` after every iteration.

    ``fun <= fun_prev + c1 * step * slope_prev`` and ``|slope| <= c2 * |slope_prev|``
    (the strong Wolfe conditions) hold when ``line_search`` is ``"CONVERGENCE"``.
    """

    n_iter: int
    x: Any
    fun: float
    grad: Any
    direction: Any
    step: float
    fun_prev: float
    slope_prev: float  # g(x_prev) . direction
    slope: float  # g(x) . direction
    line_search: str  # "CONVERGENCE" or a "WARNING: ..." of the line search


# ---------------------------------------------------------------------------------------
# Moré-Thuente line search (host scalars)


def _safe_sqrt(value: float) -> float:
    return math.sqrt(value) if value > 0.0 else 0.0


def _sign(value: float) -> float:
    return (value > 0.0) - (value < 0.0)


def _cstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """One safeguarded step of Moré & Thuente (MINPACK-2 ``dcstep``).

    ``stx`` holds the step with the least value so far, ``sty`` the other end of the
    interval, ``stp`` the current step; returns the updated interval, the next trial step
    and whether a minimizer is bracketed. Cubic and quadratic (secant) interpolation, with
    the safeguards of the paper.
    """
    sgnd = _sign(dp) * _sign(dx)
    if fp > fx:
        # Case 1: higher value; the minimum is bracketed. Cubic step if closer to stx,
        # otherwise the average of the cubic and quadratic steps.
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * _safe_sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp < stx:
            gamma = -gamma
        p = (gamma - dx) + theta
        q = ((gamma - dx) + gamma) + dp
        stpc = stx + (p / q) * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) <= abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:
        # Case 2: lower value, derivatives of opposite sign; bracketed. The step farther
        # from stp of the cubic and secant steps.
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * _safe_sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = ((gamma - dp) + gamma) + dx
        stpc = stp + (p / q) * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        brackt = True
    elif abs(dp) < abs(dx):
        # Case 3: lower value, same-sign derivatives, decreasing in magnitude. The cubic
        # step only if it goes in the right direction (toward infinity otherwise).
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * _safe_sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = (gamma + (dx - dp)) + gamma
        r = p / q
        if r < 0.0 and gamma != 0.0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            if stp > stx:
                stpf = min(stp + 0.66 * (sty - stp), stpf)
            else:
                stpf = max(stp + 0.66 * (sty - stp), stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = min(max(stpf, stpmin), stpmax)
    else:
        # Case 4: lower value, same-sign derivatives not decreasing in magnitude.
        if brackt:
            theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
            s = max(abs(theta), abs(dy), abs(dp))
            gamma = s * _safe_sqrt((theta / s) ** 2 - (dy / s) * (dp / s))
            if stp > sty:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = ((gamma - dp) + gamma) + dy
            stpf = stp + (p / q) * (sty - stp)
        elif stp > stx:
            stpf = stpmax
        else:
            stpf = stpmin
    # update the interval
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0.0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


class MoreThuente:
    """The Moré-Thuente line search (MINPACK-2 ``dcsrch``), driven step by step.

    Finds ``stp`` with ``phi(stp) <= phi(0) + ftol * stp * phi'(0)`` (sufficient
    decrease) and ``|phi'(stp)| <= gtol * |phi'(0)|`` (curvature): the strong Wolfe
    conditions. It works on Python floats only; the caller evaluates ``phi`` wherever
    the data live. Usage::

        search = MoreThuente(ftol=1e-3, gtol=0.9)
        stp = search.start(stp, phi0, dphi0)
        while True:
            phi, dphi = ...  # evaluate at stp
            stp, task = search.iterate(stp, phi, dphi)
            if task != "FG":
                break  # "CONVERGENCE" or "WARNING: ...": stp is the last evaluated

    Parameters
    ----------
    ftol, gtol, xtol : float
        Sufficient-decrease and curvature constants, and the relative width of the
        bracketing interval below which the search gives up (with a warning).
    stpmin, stpmax : float
        Bounds of the step.
    """

    def __init__(
        self,
        ftol: float = 1e-3,
        gtol: float = 0.9,
        xtol: float = 0.1,
        stpmin: float = 0.0,
        stpmax: float = _STEP_MAX,
    ):
        if not (
            0.0 <= ftol < 1.0 and 0.0 <= gtol < 1.0 and xtol >= 0.0 and 0.0 <= stpmin <= stpmax
        ):
            raise ValueError(
                "MoreThuente: need 0 <= ftol < 1, 0 <= gtol < 1, xtol >= 0 and "
                f"0 <= stpmin <= stpmax, got {ftol}, {gtol}, {xtol}, {stpmin}, {stpmax}."
            )
        self.ftol, self.gtol, self.xtol = ftol, gtol, xtol
        self.stpmin, self.stpmax = stpmin, stpmax

    def start(self, stp: float, f0: float, g0: float) -> float:
        """Begin a search from ``phi(0) = f0``, ``phi'(0) = g0 < 0``; returns the first
        step to evaluate (``stp`` clipped to the bounds)."""
        if not g0 < 0.0:
            raise ValueError(f"MoreThuente.start(): the slope must be negative, got {g0}.")
        stp = min(max(stp, self.stpmin), self.stpmax)
        self.brackt = False
        self.stage = 1
        self.finit, self.ginit = f0, g0
        self.gtest = self.ftol * g0
        self.width = self.stpmax - self.stpmin
        self.width1 = 2.0 * self.width
        self.stx, self.fx, self.gx = 0.0, f0, g0
        self.sty, self.fy, self.gy = 0.0, f0, g0
        self.stmin = 0.0
        self.stmax = stp + 4.0 * stp
        return stp

    def iterate(self, stp: float, f: float, g: float) -> tuple[float, str]:
        """Take ``phi(stp) = f`` and ``phi'(stp) = g``; return the next step and the task.

        The task is ``"FG"`` (evaluate at the returned step), ``"CONVERGENCE"`` (the
        strong Wolfe conditions hold at ``stp``) or ``"WARNING: ..."`` (no better step
        can be found; ``stp`` is returned unchanged).
        """
        if not (math.isfinite(f) and math.isfinite(g)):
            # Overflow at this trial step: back off toward the best step so far. (Not in
            # dcsrch, which assumes finite values.)
            self.brackt = True
            self.sty, self.fy, self.gy = stp, math.inf, math.inf
            self.stmin, self.stmax = min(self.stx, stp), max(self.stx, stp)
            new = self.stx + 0.1 * (stp - self.stx)
            if new == stp or new == self.stx:
                return stp, "WARNING: NON-FINITE VALUES"
            return new, "FG"
        ftest = self.finit + stp * self.gtest
        if self.stage == 1 and f <= ftest and g >= 0.0:
            self.stage = 2
        task = "FG"
        if self.brackt and (stp <= self.stmin or stp >= self.stmax):
            task = "WARNING: ROUNDING ERRORS PREVENT PROGRESS"
        if self.brackt and self.stmax - self.stmin <= self.xtol * self.stmax:
            task = "WARNING: XTOL TEST SATISFIED"
        if stp == self.stpmax and f <= ftest and g <= self.gtest:
            task = "WARNING: STP = STPMAX"
        if stp == self.stpmin and (f > ftest or g >= self.gtest):
            task = "WARNING: STP = STPMIN"
        if f <= ftest and abs(g) <= self.gtol * (-self.ginit):
            task = "CONVERGENCE"
        if task != "FG":
            return stp, task

        if self.stage == 1 and f <= self.fx and f > ftest:
            # First stage, sufficient decrease not yet met: work on the modified function
            # psi(stp) = phi(stp) - phi(0) - ftol * stp * phi'(0).
            gtest = self.gtest
            stx, fxm, gxm, sty, fym, gym, stp, self.brackt = _cstep(
                self.stx,
                self.fx - self.stx * gtest,
                self.gx - gtest,
                self.sty,
                self.fy - self.sty * gtest,
                self.gy - gtest,
                stp,
                f - stp * gtest,
                g - gtest,
                self.brackt,
                self.stmin,
                self.stmax,
            )
            self.stx, self.sty = stx, sty
            self.fx, self.fy = fxm + stx * gtest, fym + sty * gtest
            self.gx, self.gy = gxm + gtest, gym + gtest
        else:
            (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp, self.brackt) = _cstep(
                self.stx,
                self.fx,
                self.gx,
                self.sty,
                self.fy,
                self.gy,
                stp,
                f,
                g,
                self.brackt,
                self.stmin,
                self.stmax,
            )
        if self.brackt:
            # bisect when the interval does not shrink fast enough
            if abs(self.sty - self.stx) >= 0.66 * self.width1:
                stp = self.stx + 0.5 * (self.sty - self.stx)
            self.width1 = self.width
            self.width = abs(self.sty - self.stx)
            self.stmin = min(self.stx, self.sty)
            self.stmax = max(self.stx, self.sty)
        else:
            self.stmin = stp + 1.1 * (stp - self.stx)
            self.stmax = stp + 4.0 * (stp - self.stx)
        stp = min(max(stp, self.stpmin), self.stpmax)
        if (self.brackt and (stp <= self.stmin or stp >= self.stmax)) or (
            self.brackt and self.stmax - self.stmin <= self.xtol * self.stmax
        ):
            # no progress possible: the best step so far is the last to try
            stp = self.stx
        if not math.isfinite(stp):
            return self.stx, "WARNING: NON-FINITE STEP"
        return stp, "FG"


# ---------------------------------------------------------------------------------------
# L-BFGS


class _Evaluation(NamedTuple):
    x: Any
    f: Any  # 0-d array
    g: Any
    fun: float
    slope: float  # g . direction (0.0 without a direction)
    gmax: float  # max |g|


def _host_scalars(xp: ModuleType, *scalars: Any) -> list[float]:
    """0-d arrays as Python floats, in one transfer."""
    dtype = scalars[0].dtype
    stacked = xp.stack([xp.astype(value, dtype) for value in scalars])
    return [float(value) for value in to_numpy(stacked).tolist()]


def _value_parts(f: Any) -> tuple[Any, ...]:
    """The value as a tuple of 0-d arrays whose (double precision) sum it is."""
    return tuple(f) if isinstance(f, tuple) else (f,)


def _evaluate(xp: ModuleType, fun_and_grad: Callable, x: Any, direction: Any | None) -> _Evaluation:
    """``fun_and_grad`` at ``x`` with the scalars the line search needs, one transfer."""
    f, g = fun_and_grad(x)
    parts = _value_parts(f)
    gmax = xp.max(xp.abs(g))
    if direction is None:
        *values, gmax_h = _host_scalars(xp, *parts, gmax)
        return _Evaluation(x, f, g, math.fsum(values), 0.0, gmax_h)
    slope = xp.vecdot(g, direction)
    *values, slope_h, gmax_h = _host_scalars(xp, *parts, slope, gmax)
    return _Evaluation(x, f, g, math.fsum(values), slope_h, gmax_h)


def _in_memory(xp: ModuleType, fun_and_grad: Callable) -> Callable:
    """``fun_and_grad`` of a lazy namespace as a function of NumPy vectors.

    The iterate goes in as an (in-memory) array of ``xp``; value and gradient are
    computed together, in one pass (one graph, one compute), and come back as NumPy.
    """

    def wrapped(x):
        f, g = fun_and_grad(xp.asarray(x))
        parts = _value_parts(f)
        flat = [xp.reshape(xp.astype(part, g.dtype), (1,)) for part in parts]
        both = to_numpy(xp.concat([*flat, g]))
        k = len(parts)
        values = tuple(both[i : i + 1].reshape(()) for i in range(k))
        return (values if k > 1 else values[0]), both[k:]

    return wrapped


class _Memory:
    """The last ``m`` correction pairs ``(s, y)`` with ``rho = 1 / s'y`` (a host float)
    and the scaling ``gamma = s'y / y'y`` of the newest pair (a 0-d array, no sync)."""

    def __init__(self, m: int):
        self.pairs: deque = deque(maxlen=m)
        self.gamma: Any = None

    def __len__(self) -> int:
        return len(self.pairs)

    def clear(self) -> None:
        self.pairs.clear()
        self.gamma = None

    def push(self, xp: ModuleType, s: Any, y: Any, sy: float) -> None:
        self.pairs.append((s, y, 1.0 / sy))
        self.gamma = sy / xp.vecdot(y, y)

    def direction(self, xp: ModuleType, g: Any) -> Any:
        """``-H g`` by the two-loop recursion (Nocedal & Wright, Algorithm 7.4)."""
        if not self.pairs:
            return -g
        q = g
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * xp.vecdot(s, q)
            q = q - alpha * y
            alphas.append(alpha)
        r = self.gamma * q
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas), strict=True):
            beta = rho * xp.vecdot(y, r)
            r = r + (alpha - beta) * s
        return -r


def minimize_lbfgs(
    fun_and_grad: Callable[[Any], tuple[Any, Any]],
    x0: Any,
    *,
    max_iter: int = 100,
    pgtol: float = 1e-5,
    ftol: float | None = None,
    m: int = 10,
    max_ls: int = 50,
    c1: float = 1e-3,
    c2: float = 0.9,
    xtol: float = 0.1,
    callback: Callable[[IterationInfo], None] | None = None,
) -> LbfgsResult:
    """Minimize a smooth function with L-BFGS, on the namespace and device of ``x0``.

    Parameters
    ----------
    fun_and_grad : callable
        ``fun_and_grad(x) -> (f, g)``: the value (a 0-d array, or a tuple of 0-d arrays
        whose sum, taken on the host in double precision, is the value: a compensated
        ``hi + lo`` in low precision) and the gradient (an array like ``x``), computed
        together.
    x0 : array of shape (n,)
        Starting point; its namespace, device and dtype are those of every vector of the
        iteration.
    max_iter : int, default=100
        Most iterations (accepted steps); reaching it gives status 1.
    pgtol : float, default=1e-5
        Stop when ``max|g| <= pgtol``.
    ftol : float, default=None
        Stop when ``(f_old - f) / max(|f_old|, |f|, 1) <= ftol``; default ``64 * eps`` of
        the dtype of ``x0`` (scikit-learn's setting).
    m : int, default=10
        Number of correction pairs kept.
    max_ls : int, default=50
        Most function evaluations of one line search.
    c1, c2 : float, default=1e-3, 0.9
        Wolfe constants: sufficient decrease and (strong) curvature.
    xtol : float, default=0.1
        Relative interval width at which the line search stops with a warning.
    callback : callable, default=None
        Called with an :class:`IterationInfo` after every iteration.

    Returns
    -------
    LbfgsResult
    """
    if max_iter < 0 or m < 1 or max_ls < 1:
        raise ValueError(
            f"minimize_lbfgs(): need max_iter >= 0, m >= 1 and max_ls >= 1, got "
            f"max_iter={max_iter}, m={m}, max_ls={max_ls}."
        )
    xp = array_namespace(x0)
    if ftol is None:
        ftol = 64.0 * float(xp.finfo(x0.dtype).eps)
    options = dict(max_iter=max_iter, pgtol=pgtol, ftol=ftol, m=m, max_ls=max_ls)
    wolfe = dict(c1=c1, c2=c2, xtol=xtol)
    if not is_lazy(xp):
        return _lbfgs(xp, fun_and_grad, x0, callback, **options, **wolfe)
    # the vectors of the iteration live in memory as NumPy arrays (see the module doc)
    result = _lbfgs(
        numpy_namespace(),
        _in_memory(xp, fun_and_grad),
        to_numpy(x0),
        callback,
        **options,
        **wolfe,
    )
    return result._replace(x=xp.asarray(result.x), grad=xp.asarray(result.grad))


def _lbfgs(xp, fun_and_grad, x0, callback, *, max_iter, pgtol, ftol, m, max_ls, c1, c2, xtol):
    """The iteration of :func:`minimize_lbfgs`, on an eager namespace ``xp``."""
    eps = float(xp.finfo(x0.dtype).eps)
    current = _evaluate(xp, fun_and_grad, x0, None)
    n_eval, n_iter = 1, 0
    if current.gmax <= pgtol:
        return LbfgsResult(current.x, current.fun, current.g, 0, 1, CONVERGED, _MESSAGES["pgtol"])
    if max_iter == 0:
        return LbfgsResult(current.x, current.fun, current.g, 0, 1, MAX_ITER, _MESSAGES["max_iter"])
    memory = _Memory(m)
    while True:
        direction = memory.direction(xp, current.g)
        (slope0,) = _host_scalars(xp, xp.vecdot(current.g, direction))
        accepted = None
        task = "WARNING: ASCENT DIRECTION"
        if slope0 < 0.0:
            # L-BFGS-B's first step is 1 / ||d|| (d = -g then), later steps start at 1
            stp = min(1.0 / math.sqrt(-slope0), _STEP_MAX) if n_iter == 0 else 1.0
            search = MoreThuente(ftol=c1, gtol=c2, xtol=xtol)
            stp = search.start(stp, current.fun, slope0)
            for trial in range(max_ls):
                candidate = _evaluate(xp, fun_and_grad, current.x + stp * direction, direction)
                n_eval += 1
                new_stp, task = search.iterate(stp, candidate.fun, candidate.slope)
                if task != "FG":
                    if math.isfinite(candidate.fun):
                        accepted = (stp, candidate)
                    break
                if trial == max_ls - 1:
                    task = "WARNING: TOO MANY FUNCTION EVALUATIONS"
                stp = new_stp
        if accepted is None:
            # the previous iterate is kept; restart from steepest descent, or give up
            if not memory:
                n_iter += 1
                message = f"{_MESSAGES['line_search']} ({task})"
                return LbfgsResult(
                    current.x, current.fun, current.g, n_iter, n_eval, LINE_SEARCH_FAILED, message
                )
            memory.clear()
            continue
        stp, new = accepted
        n_iter += 1
        previous = current
        current = new
        if callback is not None:
            callback(
                IterationInfo(
                    n_iter,
                    current.x,
                    current.fun,
                    current.g,
                    direction,
                    stp,
                    previous.fun,
                    slope0,
                    current.slope,
                    task,
                )
            )
        if n_iter >= max_iter:
            return LbfgsResult(
                current.x, current.fun, current.g, n_iter, n_eval, MAX_ITER, _MESSAGES["max_iter"]
            )
        if current.gmax <= pgtol:
            return LbfgsResult(
                current.x, current.fun, current.g, n_iter, n_eval, CONVERGED, _MESSAGES["pgtol"]
            )
        scale = max(abs(previous.fun), abs(current.fun), 1.0)
        if previous.fun - current.fun <= ftol * scale:
            return LbfgsResult(
                current.x, current.fun, current.g, n_iter, n_eval, CONVERGED, _MESSAGES["ftol"]
            )
        # s = stp d, y = g_new - g_old; s'y and -g's from the slopes already on the host
        sy = stp * (current.slope - slope0)
        if sy > eps * (-slope0 * stp):
            memory.push(xp, stp * direction, current.g - previous.g, sy)
