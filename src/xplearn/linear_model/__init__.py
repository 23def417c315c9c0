"""Linear models written once against the Array API: least squares, ridge and logistic
regression."""

from xplearn.linear_model._base import LinearRegression
from xplearn.linear_model._logistic import LogisticRegression
from xplearn.linear_model._ridge import Ridge

__all__ = ["LinearRegression", "LogisticRegression", "Ridge"]
