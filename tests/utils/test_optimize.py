"""The array-API L-BFGS and its Moré-Thuente line search."""

import math

import numpy as np
import pytest
import scipy.optimize

from xplearn._xp import device_of, to_numpy
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64
from xplearn.utils._optimize import MoreThuente, minimize_lbfgs

C1, C2 = 1e-3, 0.9


def _quadratic(xp, A, b):
    """f(x) = x'Ax/2 - b'x, gradient Ax - b."""

    def fun_and_grad(x):
        Ax = A @ x
        return 0.5 * xp.vecdot(x, Ax) - xp.vecdot(b, x), Ax - b

    return fun_and_grad


def _rosenbrock(xp):
    """The n-dimensional Rosenbrock function and its gradient, written against xp."""

    def fun_and_grad(x):
        head, tail = x[:-1], x[1:]
        inner = tail - head * head
        f = xp.sum(100.0 * inner * inner + (1.0 - head) ** 2)
        zero = xp.zeros((1,), dtype=x.dtype, device=device_of(x))
        from_head = -400.0 * head * inner - 2.0 * (1.0 - head)
        from_tail = 200.0 * inner
        grad = xp.concat([from_head, zero]) + xp.concat([zero, from_tail])
        return f, grad

    return fun_and_grad


def _spd_problem(n=12, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.logspace(0, 2, n)) @ Q.T  # condition number 100
    b = rng.standard_normal(n)
    return A, b


def test_quadratic(backend):
    skip_without_float64(backend, np.float64)
    xp = backend.xp
    A, b = _spd_problem()
    fun = _quadratic(xp, backend.asarray(A), backend.asarray(b))
    x0 = xp.zeros((b.shape[0],), dtype=xp.float64, device=backend.device)
    # ftol=0: only the gradient criterion (or no decrease at all) stops the iteration
    result = minimize_lbfgs(fun, x0, max_iter=200, pgtol=1e-7, ftol=0.0)
    assert result.converged, result.message
    assert_on_backend(result.x, backend)
    assert_on_backend(result.grad, backend)
    # |x - x*| <= |g| / lambda_min, lambda_min = 1
    assert_allclose_xp(result.x, np.linalg.solve(A, b), atol=1e-6)
    expected = -0.5 * b @ np.linalg.solve(A, b)
    assert math.isclose(result.fun, expected, rel_tol=1e-12)


def test_rosenbrock(backend):
    skip_without_float64(backend, np.float64)
    xp = backend.xp
    x0_host = np.array([-1.2, 1.0, -0.5, 0.8, 1.3])
    x0 = backend.asarray(x0_host)
    result = minimize_lbfgs(_rosenbrock(xp), x0, max_iter=1000, pgtol=1e-8)
    assert result.converged, result.message
    assert_on_backend(result.x, backend)
    assert_allclose_xp(result.x, np.ones(5), rtol=1e-6)
    assert result.n_eval >= result.n_iter


def test_rosenbrock_iterates_like_scipy_lbfgsb():
    """Without bounds, the iteration is SciPy's L-BFGS-B: same iterations, evaluations."""
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])

    def fun_and_grad(x):
        return np.asarray(scipy.optimize.rosen(x)), scipy.optimize.rosen_der(x)

    ours = minimize_lbfgs(fun_and_grad, x0, max_iter=1000, pgtol=1e-8)
    theirs = scipy.optimize.minimize(
        fun_and_grad,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000, "gtol": 1e-8, "ftol": 64 * np.finfo(float).eps, "maxls": 50},
    )
    assert ours.converged
    assert theirs.success
    assert ours.n_iter == theirs.nit
    assert ours.n_eval == theirs.nfev
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-10)


@pytest.mark.parametrize("problem", ["quadratic", "rosenbrock"])
def test_wolfe_conditions_at_accepted_steps(backend, problem):
    """Every accepted step satisfies the strong Wolfe conditions."""
    if backend.name not in ("numpy", "torch"):
        pytest.skip("the line search runs on host scalars: numpy and torch suffice")
    skip_without_float64(backend, np.float64)
    xp = backend.xp
    if problem == "quadratic":
        A, b = _spd_problem(seed=1)
        fun = _quadratic(xp, backend.asarray(A), backend.asarray(b))
        x0 = backend.asarray(np.ones(b.shape[0]))
    else:
        fun = _rosenbrock(xp)
        x0 = backend.asarray(np.array([-1.2, 1.0, 0.3]))
    infos = []
    minimize_lbfgs(fun, x0, max_iter=100, pgtol=1e-9, callback=infos.append)
    assert len(infos) > 3
    for info in infos:
        if info.line_search != "CONVERGENCE":
            continue
        assert info.slope_prev < 0
        assert info.fun <= info.fun_prev + C1 * info.step * info.slope_prev
        assert abs(info.slope) <= C2 * abs(info.slope_prev)
        # the slope reported is g(x) . d at the accepted point
        grad, direction = to_numpy(info.grad), to_numpy(info.direction)
        assert math.isclose(float(grad @ direction), info.slope, rel_tol=1e-9, abs_tol=1e-14)
    assert sum(info.line_search == "CONVERGENCE" for info in infos) >= len(infos) - 2


def _phi_more_thuente_1(beta=2.0):
    """Moré & Thuente (1994), function 1: phi(a) = -a / (a^2 + beta)."""

    def phi(a):
        return -a / (a * a + beta), (a * a - beta) / (a * a + beta) ** 2

    return phi


def _phi_more_thuente_2(beta=0.004):
    """Moré & Thuente (1994), function 2: phi(a) = (a + beta)^5 - 2 (a + beta)^4."""

    def phi(a):
        t = a + beta
        return t**5 - 2.0 * t**4, 5.0 * t**4 - 8.0 * t**3

    return phi


@pytest.mark.parametrize(
    ("phi", "ftol", "gtol"),
    [(_phi_more_thuente_1(), 1e-3, 0.1), (_phi_more_thuente_2(), 0.1, 0.1)],
    ids=["function1", "function2"],
)
@pytest.mark.parametrize("stp0", [1e-3, 1e-1, 10.0, 1e3])
def test_more_thuente_finds_strong_wolfe_step(phi, ftol, gtol, stp0):
    f0, g0 = phi(0.0)
    search = MoreThuente(ftol=ftol, gtol=gtol, xtol=1e-10)
    stp = search.start(stp0, f0, g0)
    for _ in range(50):
        f, g = phi(stp)
        stp, task = search.iterate(stp, f, g)
        if task != "FG":
            break
    assert task == "CONVERGENCE"
    f, g = phi(stp)
    assert f <= f0 + ftol * stp * g0
    assert abs(g) <= gtol * abs(g0)


def test_more_thuente_backs_off_from_non_finite_values():
    search = MoreThuente()
    stp = search.start(1.0, 0.0, -1.0)
    new, task = search.iterate(stp, math.inf, math.nan)
    assert task == "FG"
    assert 0.0 < new < stp


def test_more_thuente_rejects_an_ascent_direction():
    with pytest.raises(ValueError, match="slope must be negative"):
        MoreThuente().start(1.0, 0.0, 1.0)


def test_max_iter_reached():
    fun = _rosenbrock(np)
    result = minimize_lbfgs(fun, np.array([-1.2, 1.0]), max_iter=3, pgtol=1e-12)
    assert result.status == 1
    assert not result.converged
    assert result.n_iter == 3
    assert "ITERATIONS" in result.message


def test_max_iter_zero_returns_the_start():
    x0 = np.array([-1.2, 1.0])
    result = minimize_lbfgs(_rosenbrock(np), x0, max_iter=0)
    assert result.status == 1
    assert result.n_iter == 0
    np.testing.assert_array_equal(result.x, x0)


def test_starting_at_the_minimum_takes_no_iteration():
    result = minimize_lbfgs(_rosenbrock(np), np.ones(3))
    assert result.converged
    assert result.n_iter == 0
    assert result.n_eval == 1


def test_relative_reduction_criterion():
    """A function that stops decreasing (a flat floor) stops on the ftol test."""

    def fun_and_grad(x):
        # a quadratic bowl cut off by a flat floor at f = -1: no gradient-based exit
        # before the floor; steps landing on it do not decrease f
        f = np.sum(x * x) - 1.0
        return np.asarray(max(f, -1.0 + 1e-3)), 2.0 * x

    result = minimize_lbfgs(fun_and_grad, np.array([3.0, -2.0]), pgtol=0.0, max_iter=50)
    assert result.converged
    assert "REL_REDUCTION" in result.message


def test_value_as_an_unevaluated_sum():
    """A value given as a tuple of 0-d arrays is their sum, taken on the host."""
    A, b = _spd_problem()
    quadratic = _quadratic(np, A, b)

    def split_value(x):
        f, g = quadratic(x)
        hi = np.asarray(f, dtype=np.float32).astype(np.float64)
        return (hi, f - hi), g  # hi + lo == f exactly

    plain = minimize_lbfgs(quadratic, np.zeros(b.shape[0]), pgtol=1e-8)
    split = minimize_lbfgs(split_value, np.zeros(b.shape[0]), pgtol=1e-8)
    assert split.converged
    assert split.fun == plain.fun
    assert split.n_iter == plain.n_iter
    np.testing.assert_array_equal(split.x, plain.x)


def test_float32_stays_float32(backend):
    xp = backend.xp
    A, b = _spd_problem()
    fun = _quadratic(xp, backend.asarray(A, np.float32), backend.asarray(b, np.float32))
    x0 = xp.zeros((b.shape[0],), dtype=xp.float32, device=backend.device)
    result = minimize_lbfgs(fun, x0, max_iter=200, pgtol=1e-4, ftol=0.0)
    assert result.x.dtype == xp.float32
    assert result.grad.dtype == xp.float32
    assert_on_backend(result.x, backend)
    # float32 resolves f to ~1e-7 relative: x to about sqrt(1e-7) near the minimum
    assert_allclose_xp(result.x, np.linalg.solve(A, b), atol=2e-3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_iter"):
        minimize_lbfgs(_rosenbrock(np), np.zeros(2), max_iter=-1)
    with pytest.raises(ValueError, match="m >= 1"):
        minimize_lbfgs(_rosenbrock(np), np.zeros(2), m=0)
