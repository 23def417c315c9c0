"""Exact (brute-force) nearest neighbours, written once against the Array API."""

from xplearn.neighbors._base import NearestNeighbors
from xplearn.neighbors._classification import KNeighborsClassifier
from xplearn.neighbors._regression import KNeighborsRegressor

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors"]
