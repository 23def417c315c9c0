"""xplearn: scikit-learn-compatible estimators written once against the Array API.

The same estimator runs on NumPy, PyTorch (CPU and CUDA), CuPy and Dask arrays; its fitted
attributes live where its training data lived. Optional array libraries are imported only
when used.
"""

from xplearn._config import config_context, get_config, set_config
from xplearn._version import __version__
from xplearn.base import convert

__all__ = ["__version__", "config_context", "convert", "get_config", "set_config"]
