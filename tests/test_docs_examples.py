"""The Python examples of the user-guide pages that promise a result run as written."""

import re
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: pages whose code blocks are statements the library must keep true
PAGES = ["user_guide/numerical_accuracy.rst"]


def _blocks(page):
    text = (DOCS / page).read_text()
    found = re.findall(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text, flags=re.MULTILINE)
    return [textwrap.dedent(block) for block in found]


CASES = [(page, i, code) for page in PAGES for i, code in enumerate(_blocks(page))]


def test_every_page_has_an_example():
    assert {page for page, _, _ in CASES} == set(PAGES)


@pytest.mark.parametrize(("page", "index", "code"), CASES, ids=[f"{p}#{i}" for p, i, _ in CASES])
def test_docs_example_runs(page, index, code):
    exec(compile(code, f"{page}#{index}", "exec"), {"__name__": "__docs__"})
