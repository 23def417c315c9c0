"""The dtype policy, cell by cell: (input dtype) x (policy) x (device with/without float64)."""

import array_api_strict
import numpy as np
import pytest

from xplearn import config_context
from xplearn._config import DTYPE_POLICIES
from xplearn._xp import (
    DtypePlan,
    check_policy,
    default_float_dtype,
    resolve_dtypes,
    resolve_namespace,
    supports_float64,
)

NP = resolve_namespace("numpy")

# input dtype -> policy -> (compute, accumulate), on a device with float64 (NumPy): sums
# over samples accumulate in float64 under every policy but "float32" (issue 15)
NUMPY_TABLE = {
    "float32": {
        "preserve": ("float32", "float64"),
        "float32": ("float32", "float32"),
        "float64": ("float64", "float64"),
        "mixed": ("float32", "float64"),
    },
    "float64": {
        "preserve": ("float64", "float64"),
        "float32": ("float32", "float32"),
        "float64": ("float64", "float64"),
        "mixed": ("float32", "float64"),
    },
    "int64": {
        "preserve": ("float64", "float64"),
        "float32": ("float32", "float32"),
        "float64": ("float64", "float64"),
        "mixed": ("float32", "float64"),
    },
    "bool": {
        "preserve": ("float64", "float64"),
        "float32": ("float32", "float32"),
        "float64": ("float64", "float64"),
        "mixed": ("float32", "float64"),
    },
    "float16": {
        # half precision is too coarse for statistics: float32 storage, float64 sums
        "preserve": ("float32", "float64"),
        "float32": ("float32", "float32"),
        "float64": ("float64", "float64"),
        "mixed": ("float32", "float64"),
    },
}

# the same on array-api-strict's device without float64 (float64 and float16 inputs cannot
# exist there); None: ValueError
NO_FLOAT64_TABLE = {
    "float32": {
        "preserve": ("float32", "float32"),
        "float32": ("float32", "float32"),
        "float64": None,
        "mixed": ("float32", "float32"),
    },
    "int64": {
        "preserve": ("float32", "float32"),
        "float32": ("float32", "float32"),
        "float64": None,
        "mixed": ("float32", "float32"),
    },
    "int32": {
        "preserve": ("float32", "float32"),
        "float32": ("float32", "float32"),
        "float64": None,
        "mixed": ("float32", "float32"),
    },
    "bool": {
        "preserve": ("float32", "float32"),
        "float32": ("float32", "float32"),
        "float64": None,
        "mixed": ("float32", "float32"),
    },
}


def _cells(table):
    return [
        (dtype, policy, expected)
        for dtype, row in table.items()
        for policy, expected in row.items()
    ]


def test_tables_cover_every_policy():
    for table in (NUMPY_TABLE, NO_FLOAT64_TABLE):
        for row in table.values():
            assert set(row) == set(DTYPE_POLICIES)


@pytest.mark.parametrize(("dtype", "policy", "expected"), _cells(NUMPY_TABLE))
def test_numpy_policy_table(dtype, policy, expected):
    plan = resolve_dtypes(NP, "cpu", np.dtype(dtype), policy)
    assert isinstance(plan, DtypePlan)
    assert np.dtype(plan.compute) == np.dtype(expected[0])
    assert np.dtype(plan.accumulate) == np.dtype(expected[1])
    # the plan's dtypes are usable to build arrays of exactly that dtype
    assert NP.zeros(1, dtype=plan.compute).dtype == np.dtype(expected[0])


@pytest.mark.parametrize(("dtype", "policy", "expected"), _cells(NO_FLOAT64_TABLE))
def test_no_float64_policy_table(no_float64, dtype, policy, expected):
    xp, device = no_float64.xp, no_float64.device
    input_dtype = getattr(xp, dtype)
    # the input really exists on that device
    assert xp.zeros(2, dtype=input_dtype, device=device).dtype == input_dtype
    if expected is None:
        with pytest.raises(ValueError, match="does not support float64") as info:
            resolve_dtypes(xp, device, input_dtype, policy, method="PCA.fit()")
        message = str(info.value)
        assert message.startswith("PCA.fit(): dtype_policy='float64' was requested")
        assert "no_float64" in message  # names the device
        assert "array_api_strict" in message  # and the namespace
        assert "'float32' or 'mixed'" in message  # and what to do instead
        return
    plan = resolve_dtypes(xp, device, input_dtype, policy)
    assert plan.compute == getattr(xp, expected[0])
    assert plan.accumulate == getattr(xp, expected[1])
    # and arrays of those dtypes can be made on that device
    xp.zeros(1, dtype=plan.compute, device=device)
    xp.zeros(1, dtype=plan.accumulate, device=device)


def test_no_x64_device_behaves_like_no_float64():
    device = array_api_strict.Device("no_x64")
    assert not supports_float64(array_api_strict, device)
    plan = resolve_dtypes(array_api_strict, device, array_api_strict.int32, "preserve")
    assert plan == DtypePlan(array_api_strict.float32, array_api_strict.float32)
    assert resolve_dtypes(array_api_strict, device, array_api_strict.float32, "mixed") == (
        DtypePlan(array_api_strict.float32, array_api_strict.float32)
    )
    with pytest.raises(ValueError, match="no_x64"):
        resolve_dtypes(array_api_strict, device, array_api_strict.float32, "float64")


def test_preserve_integers_follow_the_device_default_float():
    # device2 has float64 but its default real floating dtype is float32
    device = array_api_strict.Device("device2")
    assert supports_float64(array_api_strict, device)
    assert default_float_dtype(array_api_strict, device) == array_api_strict.float32
    plan = resolve_dtypes(array_api_strict, device, array_api_strict.int64, "preserve")
    # stored in the default float32, summed in float64, since the device has it
    assert plan == DtypePlan(array_api_strict.float32, array_api_strict.float64)
    plan = resolve_dtypes(array_api_strict, device, array_api_strict.float32, "mixed")
    assert plan == DtypePlan(array_api_strict.float32, array_api_strict.float64)


def test_torch_integers_go_to_torch_default_dtype():
    torch = pytest.importorskip("torch")
    xp = resolve_namespace("torch")
    device = torch.device("cpu")
    assert default_float_dtype(xp, device) == torch.get_default_dtype()
    plan = resolve_dtypes(xp, device, torch.int64, "preserve")
    assert plan.compute == torch.get_default_dtype()
    assert resolve_dtypes(xp, device, torch.float16, "preserve").compute == torch.float32
    assert resolve_dtypes(xp, device, torch.bfloat16, "preserve").compute == torch.float32
    assert resolve_dtypes(xp, device, torch.float64, "preserve").compute == torch.float64


@pytest.mark.parametrize("policy", DTYPE_POLICIES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_policy_table_on_every_backend(backend, policy, dtype):
    """Every backend follows the table; integers go to the device's default float."""
    xp, device = backend.xp, backend.device
    if dtype == "float64" and not backend.has_float64:
        pytest.skip("no float64 on this device")
    host = np.zeros((2, 2), dtype=dtype)
    array = backend.asarray(host)
    plan = resolve_dtypes(xp, device, array.dtype, policy)
    expected = NUMPY_TABLE[dtype][policy]
    if dtype in ("int64", "bool") and policy == "preserve":
        default = default_float_dtype(xp, device)  # torch: float32, summed in float64
        wide = xp.float64 if supports_float64(xp, device) else default
        assert plan == DtypePlan(default, wide)
        return
    assert plan.compute == getattr(xp, expected[0])
    assert plan.accumulate == getattr(xp, expected[1])


def test_supports_float64(backend, no_float64):
    assert supports_float64(backend.xp, backend.device) is backend.has_float64
    assert supports_float64(backend.xp, backend.device)  # all test backends have float64
    assert supports_float64(no_float64.xp, no_float64.device) is False
    assert default_float_dtype(no_float64.xp, no_float64.device) == array_api_strict.float32


def test_check_policy_reads_config():
    assert check_policy(None) == "preserve"
    with config_context(dtype_policy="mixed"):
        assert check_policy(None) == "mixed"
        # an explicit policy wins over the configured one
        assert check_policy("float64") == "float64"
    assert check_policy(None) == "preserve"


def test_resolve_dtypes_policy_none_reads_config():
    with config_context(dtype_policy="float32"):
        plan = resolve_dtypes(NP, "cpu", np.dtype("float64"), None)
    assert np.dtype(plan.compute) == np.float32
    plan = resolve_dtypes(NP, "cpu", np.dtype("float64"), None)
    assert np.dtype(plan.compute) == np.float64


@pytest.mark.parametrize("bad", ["float16", "double", "", 64])
def test_check_policy_rejects_unknown(bad):
    with pytest.raises(ValueError, match="dtype_policy must be one of") as info:
        check_policy(bad, method="KMeans.fit()")
    assert str(info.value).startswith("KMeans.fit(): ")
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="dtype_policy must be one of"):
        resolve_dtypes(NP, "cpu", np.dtype("float64"), bad)


def test_dtype_plan_is_frozen():
    plan = DtypePlan(np.float32, np.float64)
    with pytest.raises(AttributeError):
        plan.compute = np.float64


@pytest.mark.parametrize("input_dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("policy", DTYPE_POLICIES)
def test_statistics_accumulate_in_float64_unless_float32_is_asked(input_dtype, policy):
    """Sums over samples: float64 where the device has it under "preserve", "mixed" and
    "float64"; float32 under "float32" (always that dtype) and without float64."""
    from xplearn._xp._dtypes import statistics_dtype

    plan = resolve_dtypes(NP, "cpu", getattr(NP, input_dtype), policy)
    expected = NP.float32 if policy == "float32" else NP.float64
    assert statistics_dtype(NP, "cpu", plan, policy) == expected
    with config_context(dtype_policy=policy):  # None: the configured policy
        assert statistics_dtype(NP, "cpu", plan, None) == expected
    if policy == "float64":
        return
    device = array_api_strict.Device("no_float64")
    plan = resolve_dtypes(array_api_strict, device, array_api_strict.float32, policy)
    assert statistics_dtype(array_api_strict, device, plan, policy) == array_api_strict.float32
