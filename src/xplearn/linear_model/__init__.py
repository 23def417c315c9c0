"""Linear models written once against the Array API: least squares and ridge."""

from xplearn.linear_model._base import LinearRegression
from xplearn.linear_model._ridge import Ridge

__all__ = ["LinearRegression", "Ridge"]
