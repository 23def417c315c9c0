"""xplearn.pipeline: scikit-learn's Pipeline, with direct inference through xplearn steps."""

import pickle

import numpy as np
import pytest
from sklearn import pipeline as sk_pipeline
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from xplearn.cluster import KMeans
from xplearn.decomposition import PCA
from xplearn.linear_model import LogisticRegression
from xplearn.pipeline import Pipeline, make_pipeline
from xplearn.preprocessing import StandardScaler

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def _data():
    X, y = make_classification(
        n_samples=200, n_features=8, n_classes=3, n_informative=5, random_state=0
    )
    X_new = np.random.default_rng(3).normal(size=(9, 8))
    return X, y, X_new


def test_same_results_as_scikit_learn_pipeline():
    X, y, X_new = _data()
    ours = make_pipeline(StandardScaler(), PCA(n_components=5), LogisticRegression()).fit(X, y)
    reference = sk_pipeline.make_pipeline(
        StandardScaler(), PCA(n_components=5), LogisticRegression()
    ).fit(X, y)
    for method in METHODS:
        np.testing.assert_array_equal(
            getattr(ours, method)(X_new), getattr(reference, method)(X_new)
        )
    np.testing.assert_array_equal(ours[:-1].transform(X_new), reference[:-1].transform(X_new))


def test_passthrough_and_transform_only():
    X, _, X_new = _data()
    ours = make_pipeline(StandardScaler(), "passthrough", PCA(n_components=3)).fit(X)
    expected = PCA(n_components=3).fit(StandardScaler().fit_transform(X))
    np.testing.assert_allclose(
        ours.transform(X_new), expected.transform(ours[0].transform(X_new)), rtol=1e-12
    )


def test_mixed_pipeline_uses_scikit_learn_path():
    X, y, X_new = _data()
    ours = make_pipeline(SkStandardScaler(), LogisticRegression()).fit(X, y)
    reference = sk_pipeline.make_pipeline(SkStandardScaler(), LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(ours.predict_proba(X_new), reference.predict_proba(X_new))


def test_methods_follow_the_final_step():
    X, _, _ = _data()
    clusterer = make_pipeline(StandardScaler(), KMeans(n_clusters=3, n_init=1)).fit(X)
    assert hasattr(clusterer, "predict")
    assert not hasattr(clusterer, "predict_proba")


def test_not_fitted_error_names_the_step():
    _, _, X_new = _data()
    with pytest.raises(NotFittedError, match=r"StandardScaler\.transform\(\)"):
        make_pipeline(StandardScaler(), LogisticRegression()).predict(X_new)


def test_clone_pickle_and_grid_search():
    X, y, X_new = _data()
    ours = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    assert isinstance(clone(ours), Pipeline)
    search = GridSearchCV(ours, {"model__C": [0.1, 1.0]}, cv=3).fit(X, y)
    best = search.best_estimator_
    assert isinstance(best, Pipeline)
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(restored.predict(X_new), best.predict(X_new))
