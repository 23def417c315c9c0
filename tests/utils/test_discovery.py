"""xplearn.utils.discovery.all_estimators."""

import inspect

import pytest
from sklearn.base import BaseEstimator

from xplearn.base import XPEstimatorMixin
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.utils.discovery import ESTIMATOR_SUBPACKAGES, all_estimators


def test_finds_public_estimators_sorted():
    estimators = all_estimators()
    names = [name for name, _ in estimators]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    found = dict(estimators)
    assert found["StandardScaler"] is StandardScaler
    assert found["MinMaxScaler"] is MinMaxScaler
    for name, cls in estimators:
        assert not name.startswith("_")
        assert cls.__name__ == name
        assert issubclass(cls, XPEstimatorMixin)
        assert issubclass(cls, BaseEstimator)
        assert cls.__module__.startswith("xplearn.")
        assert not inspect.isabstract(cls)


def test_every_estimator_is_exported_by_its_subpackage():
    import importlib

    for name, cls in all_estimators():
        package = next(p for p in ESTIMATOR_SUBPACKAGES if cls.__module__.startswith(p))
        assert getattr(importlib.import_module(package), name, None) is cls, (
            f"{name} is not importable from {package}"
        )


def test_type_filter():
    transformers = dict(all_estimators(type_filter="transformer"))
    assert "StandardScaler" in transformers
    regressors = dict(all_estimators(type_filter="regressor"))
    assert "StandardScaler" not in regressors
    both = dict(all_estimators(type_filter=["transformer", "regressor"]))
    assert set(both) == set(transformers) | set(regressors)


def test_unknown_type_filter():
    with pytest.raises(ValueError, match="type_filter"):
        all_estimators(type_filter="sorcerer")


def test_missing_subpackages_are_skipped():
    estimators = all_estimators(subpackages=("xplearn.no_such_subpackage", "xplearn.preprocessing"))
    assert dict(estimators)["StandardScaler"] is StandardScaler


def test_broken_subpackage_is_an_error(tmp_path, monkeypatch):
    package = tmp_path / "xplearn_broken_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from xplearn_broken_pkg._missing import Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="_missing"):
        all_estimators(subpackages=("xplearn_broken_pkg",))


def test_private_and_foreign_classes_are_left_out(tmp_path, monkeypatch):
    package = tmp_path / "xplearn_fake_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from sklearn.base import BaseEstimator\n"
        "from sklearn.preprocessing import StandardScaler as Foreign\n"
        "from xplearn.base import XPEstimatorMixin\n"
        "class _Hidden(XPEstimatorMixin, BaseEstimator):\n"
        "    pass\n"
        "class NotAnEstimator:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # classes defined outside xplearn (here: a test package, and scikit-learn's) are skipped
    assert all_estimators(subpackages=("xplearn_fake_pkg",)) == []
