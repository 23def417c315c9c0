"""Matrix decompositions written once against the Array API."""

from xplearn.decomposition._pca import PCA

__all__ = ["PCA"]
