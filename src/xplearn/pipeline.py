"""A Pipeline whose inference through xplearn steps costs what the steps cost.

scikit-learn's ``Pipeline.predict`` spends ~45 µs per call on dispatch (fitted checks
through the tags of every step, metadata routing) before any step runs: more than a
one-row prediction of the xplearn steps themselves (~20 µs for a scaler and a logistic
regression). :class:`Pipeline` is scikit-learn's, unchanged for fitting, parameters,
cloning and search; only its inference methods call the steps directly when every step
is an xplearn estimator and no routed parameters are given.
"""

from __future__ import annotations

from typing import Any

from sklearn import pipeline as _sk_pipeline
from sklearn.utils.metaestimators import available_if

__all__ = ["Pipeline", "make_pipeline"]


def _is_xplearn(step: Any) -> bool:
    from xplearn.base import XPEstimatorMixin

    return isinstance(step, XPEstimatorMixin)


def _final_has(method: str):
    """available_if check: the final step has ``method`` (transform: or is passthrough)."""

    def check(pipeline: Any) -> bool:
        final = pipeline.steps[-1][1]
        if method == "transform" and (final is None or final == "passthrough"):
            return True
        getattr(final, method)  # raises AttributeError, which hides the method
        return True

    return check


class Pipeline(_sk_pipeline.Pipeline):
    """scikit-learn's :class:`~sklearn.pipeline.Pipeline` with direct xplearn inference.

    Fitting, ``get_params``/``set_params``, ``clone``, pickling and use in
    ``GridSearchCV`` are scikit-learn's. ``predict``, ``predict_proba``,
    ``predict_log_proba``, ``decision_function`` and ``transform`` chain the steps'
    own methods when every step is an xplearn estimator (or ``"passthrough"``) and no
    routed parameters are passed; otherwise scikit-learn's implementation runs. The
    results are the same either way; an unfitted step raises ``NotFittedError`` naming
    the step's method.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As scikit-learn's.
    transform_input : list of str, default=None
        As scikit-learn's.
    memory : str or object with the joblib.Memory interface, default=None
        As scikit-learn's.
    verbose : bool, default=False
        As scikit-learn's.

    See Also
    --------
    make_pipeline : Build one without naming the steps.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.linear_model import LogisticRegression
    >>> from xplearn.pipeline import make_pipeline
    >>> from xplearn.preprocessing import StandardScaler
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 0, 1, 1])
    >>> model.predict(np.array([[3.0, 1.0]]))
    array([1])
    """

    def _direct_steps(self, params: dict) -> list[Any] | None:
        """The steps to chain directly, or None when scikit-learn's path must run."""
        if params:
            return None
        steps = [step for _, step in self.steps if step is not None and step != "passthrough"]
        if not steps or not all(_is_xplearn(step) for step in steps):
            return None
        return steps

    def _direct(self, method: str, X: Any, params: dict) -> Any:
        steps = self._direct_steps(params)
        if steps is None:
            return getattr(super(), method)(X, **params)
        for step in steps[:-1]:
            X = step.transform(X)
        return getattr(steps[-1], method)(X)

    @available_if(_final_has("predict"))
    def predict(self, X, **params):
        """Transform X with every step but the last, then ``predict`` with the last.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        **params : dict
            Routed to the steps, as scikit-learn's (forces scikit-learn's path).

        Returns
        -------
        y_pred : array
        """
        return self._direct("predict", X, params)

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Transform X with every step but the last, then ``predict_proba`` with the last.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        **params : dict
            Routed to the steps, as scikit-learn's (forces scikit-learn's path).

        Returns
        -------
        proba : array of shape (n_samples, n_classes)
        """
        return self._direct("predict_proba", X, params)

    @available_if(_final_has("predict_log_proba"))
    def predict_log_proba(self, X, **params):
        """Transform X with every step but the last, then ``predict_log_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        **params : dict
            Routed to the steps, as scikit-learn's (forces scikit-learn's path).

        Returns
        -------
        log_proba : array of shape (n_samples, n_classes)
        """
        return self._direct("predict_log_proba", X, params)

    @available_if(_final_has("decision_function"))
    def decision_function(self, X, **params):
        """Transform X with every step but the last, then ``decision_function``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        **params : dict
            Routed to the steps, as scikit-learn's (forces scikit-learn's path).

        Returns
        -------
        scores : array
        """
        return self._direct("decision_function", X, params)

    @available_if(_final_has("transform"))
    def transform(self, X, **params):
        """Transform X with every step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        **params : dict
            Routed to the steps, as scikit-learn's (forces scikit-learn's path).

        Returns
        -------
        Xt : array
        """
        return self._direct("transform", X, params)


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`Pipeline` from estimators, naming the steps after their classes.

    Parameters
    ----------
    *steps : estimators
        The steps, in order (as :func:`sklearn.pipeline.make_pipeline`).
    memory : str or object with the joblib.Memory interface, default=None
        As scikit-learn's.
    transform_input : list of str, default=None
        As scikit-learn's.
    verbose : bool, default=False
        As scikit-learn's.

    Returns
    -------
    Pipeline
    """
    named = _sk_pipeline.make_pipeline(
        *steps, memory=memory, transform_input=transform_input, verbose=verbose
    )
    return Pipeline(named.steps, memory=memory, transform_input=transform_input, verbose=verbose)
