"""Sphinx extension: pages generated from the estimators' own declarations.

At ``config-inited`` (before Sphinx looks for source files) it writes, under
``docs/api/generated/`` (ignored by git):

``capabilities.inc``
    The support table: one row per estimator from its ``_capabilities``, included by
    ``supported_estimators.rst``.
``estimators.inc``
    The autosummary tables of every estimator found by
    :func:`xplearn.utils.discovery.all_estimators`, included by ``api.rst``.
``<module>.<Class>.rst``
    One API page per estimator (what autosummary would generate for it).

Files are only rewritten when their content changes, so incremental builds stay fast,
and stale pages of estimators that no longer exist are removed.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform

GENERATED = Path("api") / "generated"

#: Capabilities fields shown in the support table, in order, with their headers.
COLUMNS = (
    "Estimator",
    "Backends",
    "Dtype policies",
    "Lazy fit",
    "ONNX methods",
    "Fallbacks",
    "Known failing scikit-learn checks",
)


def public_module(cls: type) -> str:
    """``xplearn.preprocessing`` for a class defined in ``xplearn.preprocessing._data``."""
    parts = cls.__module__.split(".")
    public = [part for part in parts if not part.startswith("_")]
    return ".".join(public)


def _literals(values: Any) -> str:
    values = list(values)
    return ", ".join(f"``{value}``" for value in values) if values else "none"


def capabilities_table(estimators: list[tuple[str, type]]) -> str:
    """The support table as an RST list-table."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 12 20 18 6 12 16 16",
        "",
    ]
    lines.append("   * - " + "\n     - ".join(COLUMNS))
    for name, cls in estimators:
        caps = cls._capabilities
        fallbacks = "; ".join(f"``{backend}``: {how}" for backend, how in caps.fallbacks.items())
        cells = [
            f":class:`~{public_module(cls)}.{name}`",
            _literals(caps.backends),
            _literals(caps.dtype_policies),
            "yes" if caps.lazy_fit else "no",
            _literals(caps.onnx_methods),
            fallbacks or "none",
            "; ".join(f"``{check}``: {why}" for check, why in caps.expected_failed_checks.items())
            or "none",
        ]
        lines.append("   * - " + "\n     - ".join(cells))
    if not estimators:
        return "No estimator is available yet.\n"
    return "\n".join(lines) + "\n"


def estimators_autosummary(estimators: list[tuple[str, type]]) -> str:
    """One autosummary table per public module, for the API page."""
    by_module: dict[str, list[str]] = defaultdict(list)
    for name, cls in estimators:
        by_module[public_module(cls)].append(name)
    blocks = []
    for module in sorted(by_module):
        title = f":mod:`{module}`"
        blocks.append(
            "\n".join(
                [
                    title,
                    "~" * len(title),
                    "",
                    f".. currentmodule:: {module}",
                    "",
                    ".. autosummary::",
                    f"   :toctree: {GENERATED.as_posix()}",
                    "   :nosignatures:",
                    "",
                    *(f"   {name}" for name in sorted(by_module[module])),
                    "",
                ]
            )
        )
    blocks.append(".. currentmodule:: xplearn\n")
    return "\n".join(blocks)


def estimator_page(name: str, cls: type) -> str:
    """The API page of one estimator."""
    module = public_module(cls)
    title = f"{module}.{name}"
    return "\n".join(
        [
            title,
            "=" * len(title),
            "",
            f".. currentmodule:: {module}",
            "",
            f".. autoclass:: {name}",
            "   :members:",
            "",
            f"Support: :doc:`supported estimators </supported_estimators>` lists the backends, "
            f"dtype policies and ONNX methods of {name}.",
            "",
        ]
    )


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(srcdir: Path) -> list[Path]:
    """Write the generated files under ``srcdir``; return the paths written."""
    from xplearn.utils.discovery import all_estimators

    estimators = all_estimators()
    out = srcdir / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    written = {
        out / "capabilities.inc": capabilities_table(estimators),
        out / "estimators.inc": estimators_autosummary(estimators),
    }
    for name, cls in estimators:
        written[out / f"{public_module(cls)}.{name}.rst"] = estimator_page(name, cls)
    for path, text in written.items():
        _write_if_changed(path, text)
    # remove pages of estimators that no longer exist (autosummary's own pages, for the
    # functions listed in api.rst, are regenerated right after this)
    for path in out.glob("xplearn.*.rst"):
        if path not in written and _is_estimator_page(path):
            path.unlink()
    return list(written)


def _is_estimator_page(path: Path) -> bool:
    return "\n   :members:\n\nSupport: " in path.read_text()


def _on_config_inited(app: Any, config: Any) -> None:
    generate(Path(app.srcdir))


def _skip_metadata_request_methods(
    app: Any, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """Leave out scikit-learn's generated ``set_{method}_request`` methods.

    scikit-learn adds them to every estimator class for metadata routing; their docstrings
    point into scikit-learn's own docs (glossary terms, labels), which do not exist here.
    """
    if what == "class" and name.startswith("set_") and name.endswith("_request"):
        return True
    return None


class TrailingUnderscoreNamesAsText(SphinxTransform):
    """Render ``coef_`` written bare in a docstring as the text ``coef_``.

    In reStructuredText ``word_`` is a reference to a target named ``word``, so docstrings
    that write fitted-attribute names plainly ("array of shape (n_features_in_,)", the
    scikit-learn idiom) would fail the build with "Unknown target name". A reference whose
    text is a Python identifier and whose target does not exist is turned back into the
    text the author wrote. Real references to existing targets are left alone.
    """

    default_priority = 849  # just before docutils' DanglingReferences (850) reports them

    def apply(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(nodes.reference)):
            refname = node.get("refname")
            if refname is None or refname in self.document.nameids:
                continue
            text = node.astext()
            if text.isidentifier():
                node.replace_self(nodes.Text(text + "_"))


def setup(app: Any) -> dict[str, Any]:
    """Register the generator with Sphinx."""
    app.connect("config-inited", _on_config_inited)
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
    app.add_transform(TrailingUnderscoreNamesAsText)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
