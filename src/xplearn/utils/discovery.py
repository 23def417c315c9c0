"""Find xplearn's public estimators by walking its public subpackages.

The docs (support table, API page), ``python -m xplearn demo`` and the test suite use
:func:`all_estimators`, so a new estimator shows up everywhere once its module exists.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Any

__all__ = ["ESTIMATOR_SUBPACKAGES", "all_estimators"]

#: The public subpackages that hold estimators; those not written yet are skipped.
ESTIMATOR_SUBPACKAGES = (
    "xplearn.preprocessing",
    "xplearn.decomposition",
    "xplearn.linear_model",
    "xplearn.cluster",
    "xplearn.neighbors",
    "xplearn.naive_bayes",
    "xplearn.discriminant_analysis",
)

_TYPE_FILTERS = ("classifier", "regressor", "transformer", "cluster")


def _import_if_present(name: str) -> ModuleType | None:
    """Import module ``name``, or return None if it (or its parent) does not exist.

    Any other import error, including a missing module *inside* an existing subpackage,
    propagates: a broken package must not silently vanish from the docs and the tests.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            return None
        raise


def _walk_modules(package: ModuleType) -> list[ModuleType]:
    """``package`` and every module below it (test modules excluded)."""
    modules = [package]
    path = getattr(package, "__path__", None)
    if path is None:  # a plain module, e.g. xplearn/naive_bayes.py
        return modules
    for info in pkgutil.walk_packages(path, prefix=package.__name__ + "."):
        parts = info.name.split(".")
        if "tests" in parts or "_tests" in parts:
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _matches(cls: type, type_filter: str) -> bool:
    """Whether ``cls`` is of kind ``type_filter``, by its scikit-learn mixins."""
    from sklearn.base import ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin

    mixin = {
        "classifier": ClassifierMixin,
        "regressor": RegressorMixin,
        "cluster": ClusterMixin,
        "transformer": TransformerMixin,
    }[type_filter]
    return issubclass(cls, mixin)


def all_estimators(
    type_filter: str | list[str] | tuple[str, ...] | None = None,
    *,
    subpackages: tuple[str, ...] | None = None,
) -> list[tuple[str, type]]:
    """List xplearn's public estimators.

    Walks the public estimator subpackages (:data:`ESTIMATOR_SUBPACKAGES`) with
    :mod:`pkgutil`, skipping those that do not exist, and keeps the classes that subclass
    both :class:`xplearn.base.XPEstimatorMixin` and :class:`sklearn.base.BaseEstimator`,
    are defined in xplearn, are not abstract and whose name does not start with ``"_"``.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster"} or list of them, \
default=None
        Keep only estimators of these kinds (any of them when a list is given). None keeps
        every estimator.
    subpackages : tuple of str, default=None
        Dotted names of the packages to walk; default :data:`ESTIMATOR_SUBPACKAGES`.

    Returns
    -------
    estimators : list of (str, type)
        ``(class name, class)`` pairs sorted by name.

    Raises
    ------
    ValueError
        If ``type_filter`` names an unknown kind.

    Examples
    --------
    >>> from xplearn.utils.discovery import all_estimators
    >>> dict(all_estimators())["StandardScaler"].__name__
    'StandardScaler'
    """
    from sklearn.base import BaseEstimator

    from xplearn.base import XPEstimatorMixin

    if type_filter is None:
        filters: tuple[str, ...] = ()
    elif isinstance(type_filter, str):
        filters = (type_filter,)
    else:
        filters = tuple(type_filter)
    unknown = [name for name in filters if name not in _TYPE_FILTERS]
    if unknown:
        raise ValueError(
            f"all_estimators(): type_filter must be None or among {_TYPE_FILTERS}, got {unknown!r}."
        )

    found: dict[str, type] = {}
    for package_name in ESTIMATOR_SUBPACKAGES if subpackages is None else subpackages:
        package = _import_if_present(package_name)
        if package is None:
            continue
        for module in _walk_modules(package):
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if not _is_public_estimator(name, cls, XPEstimatorMixin, BaseEstimator):
                    continue
                if filters and not any(_matches(cls, kind) for kind in filters):
                    continue
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return sorted(((cls.__name__, cls) for cls in found.values()), key=_sort_key)


def _is_public_estimator(name: str, cls: type, mixin: type, base: type) -> bool:
    return (
        not name.startswith("_")
        and cls.__name__ == name
        and cls.__module__.split(".")[0] == "xplearn"
        and issubclass(cls, mixin)
        and issubclass(cls, base)
        and not inspect.isabstract(cls)
    )


def _sort_key(item: tuple[str, Any]) -> tuple[str, str]:
    name, cls = item
    return name, cls.__module__
