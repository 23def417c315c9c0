"""The dtype policy: which float dtype to compute in, per namespace, device and input.

``"preserve"`` (default)
    float32 in -> float32 compute and fitted attributes; float64 in -> float64;
    integer and bool in -> the device's default real floating dtype. Sums over samples
    (means, variances, Gram matrices and R factors, inertia, the optimizer's state)
    accumulate in float64 where the device has it (``DtypePlan.accumulate``).
``"float32"`` / ``"float64"``
    Always that dtype. float64 on a device without float64 is an error, never a silent
    downgrade.
``"mixed"``
    float32 storage and matrix products, float64 accumulation of sums and statistics
    where the device has float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from xplearn._config import DTYPE_POLICIES, get_config
from xplearn._xp._namespace import namespace_name


@dataclass(frozen=True)
class DtypePlan:
    """The dtypes one computation uses.

    Attributes
    ----------
    compute : dtype
        Storage of the data, matrix products, fitted attributes.
    accumulate : dtype
        Sums over samples (means, variances, Gram matrices, inertia); float64 where the
        device has it under every policy but ``"float32"``.
    """

    compute: Any
    accumulate: Any


def supports_float64(xp: ModuleType, device: Any) -> bool:
    """Whether ``device`` of namespace ``xp`` can hold float64 arrays."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:  # pragma: no cover - every supported namespace has it
        return True
    try:
        dtypes = info().dtypes(device=device, kind="real floating")
    except (TypeError, ValueError, AttributeError):  # pragma: no cover - defensive
        return True
    return "float64" in dtypes


def statistics_dtype(xp: ModuleType, device: Any, plan: DtypePlan, policy: str | None) -> Any:
    """The dtype sums over samples accumulate in under ``policy``, for a ``plan`` made for
    another input dtype (a ``partial_fit`` batch computed in the first batch's dtype).

    float64 wherever ``device`` has it, as ``resolve_dtypes`` gives, except under
    ``"float32"`` and on a device without float64, where ``plan.accumulate`` stays (and
    the sums are compensated instead).
    """
    if check_policy(policy) == "float32" or not supports_float64(xp, device):
        return plan.accumulate
    return xp.float64


def default_float_dtype(xp: ModuleType, device: Any) -> Any:
    """The default real floating dtype of ``device`` (float32 on a device without float64)."""
    try:
        return xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - defensive
        return xp.float64 if supports_float64(xp, device) else xp.float32


def is_floating(xp: ModuleType, dtype: Any) -> bool:
    """Whether ``dtype`` is a real floating dtype."""
    return xp.isdtype(dtype, "real floating")


def check_policy(policy: Any, method: str | None = None) -> str:
    """Return ``policy``, or the configured default if None; raise on unknown values."""
    if policy is None:
        policy = get_config()["dtype_policy"]
    if policy not in DTYPE_POLICIES:
        prefix = f"{method}: " if method else ""
        raise ValueError(f"{prefix}dtype_policy must be one of {DTYPE_POLICIES}, got {policy!r}.")
    return policy


def resolve_dtypes(
    xp: ModuleType,
    device: Any,
    input_dtype: Any,
    policy: str | None = None,
    *,
    method: str | None = None,
) -> DtypePlan:
    """Pick the compute and accumulation dtypes for data of ``input_dtype``.

    Parameters
    ----------
    xp : module
        Array namespace.
    device : object
        Device of the data.
    input_dtype : dtype
        Dtype of the input data.
    policy : {"preserve", "float32", "float64", "mixed"} or None
        The dtype policy; None takes ``get_config()["dtype_policy"]``.
    method : str, default=None
        Calling method, for error messages.

    Returns
    -------
    DtypePlan

    Raises
    ------
    ValueError
        For an unknown policy, or ``"float64"`` on a device without float64.
    """
    policy = check_policy(policy, method)
    has_float64 = supports_float64(xp, device)
    if policy == "float64":
        if not has_float64:
            prefix = f"{method}: " if method else ""
            raise ValueError(
                f"{prefix}dtype_policy='float64' was requested, but device {device!r} of "
                f"namespace {namespace_name(xp)} does not support float64. Use "
                "dtype_policy='float32' or 'mixed' on this device."
            )
        return DtypePlan(xp.float64, xp.float64)
    if policy == "float32":
        return DtypePlan(xp.float32, xp.float32)
    if policy == "mixed":
        return DtypePlan(xp.float32, xp.float64 if has_float64 else xp.float32)
    # "preserve": float32 and float64 are kept; half precision is too coarse for the
    # statistics we compute, so it goes to float32 (still no upcast to float64). Sums over
    # samples of float32 data accumulate in float64 where the device has it: they are
    # bound by reading the data, and float32 sums of offset data keep no digit.
    wide = xp.float64 if has_float64 else xp.float32
    if input_dtype == xp.float64:
        return DtypePlan(xp.float64, xp.float64)
    if input_dtype == xp.float32 or is_floating(xp, input_dtype):
        return DtypePlan(xp.float32, wide)
    default = default_float_dtype(xp, device)
    return DtypePlan(default, wide if default == xp.float32 else default)
