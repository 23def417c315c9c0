"""Sphinx configuration of xplearn's documentation.

The build is offline: intersphinx fetches no inventory. The support table and the
estimator part of the API reference are generated at build time from
:func:`xplearn.utils.discovery.all_estimators` and each estimator's ``_capabilities``
(see ``_ext/xplearn_docs.py``), so they cannot drift from the code and the tests.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import xplearn

project = "xplearn"
author = "The xplearn developers"
copyright = "the xplearn developers"
release = xplearn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "xplearn_docs",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- autodoc / autosummary -----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"  # numpydoc renders the types from the docstrings

# -- numpydoc ----------------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- intersphinx: offline ------------------------------------------------------------
# No mapping: the build must not reach the network. References to NumPy or scikit-learn
# objects render as plain literals.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
intersphinx_disabled_reftypes = ["*"]

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"xplearn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
}
html_show_sourcelink = False
