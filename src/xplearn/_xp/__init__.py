"""The array layer: the only part of xplearn that knows which array libraries exist.

Estimators ask it for the namespace and device of their inputs, the dtypes to compute in,
conversions between namespaces, and the few operations the Array API standard lacks.
"""

from xplearn._xp._convert import move_to, resolve_device, sparse_rows, to_numpy
from xplearn._xp._dtypes import (
    DtypePlan,
    check_policy,
    default_float_dtype,
    resolve_dtypes,
    supports_float64,
)
from xplearn._xp._namespace import (
    array_namespace,
    device_of,
    get_namespace_and_device,
    is_array,
    is_dask_array,
    namespace_name,
    numpy_namespace,
    resolve_namespace,
    same_device,
)

__all__ = [
    "DtypePlan",
    "array_namespace",
    "check_policy",
    "default_float_dtype",
    "device_of",
    "get_namespace_and_device",
    "is_array",
    "is_dask_array",
    "move_to",
    "namespace_name",
    "numpy_namespace",
    "resolve_device",
    "resolve_dtypes",
    "resolve_namespace",
    "same_device",
    "sparse_rows",
    "supports_float64",
    "to_numpy",
]
