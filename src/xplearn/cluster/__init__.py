"""Clustering estimators written once against the Array API."""

from xplearn.cluster._kmeans import KMeans, MiniBatchKMeans, kmeans_plusplus

__all__ = ["KMeans", "MiniBatchKMeans", "kmeans_plusplus"]
