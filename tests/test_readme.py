"""The README's Python code blocks run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE)


def test_readme_has_python_blocks():
    assert BLOCKS, "README.md has no ```python block"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code):
    if re.search(r"^import torch|^from torch", code, flags=re.MULTILINE):
        pytest.importorskip("torch")
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_readme_commands_match_ci():
    """.ci/run runs exactly the README's install and test commands."""
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    for command in ('pip install -e ".[test]"', "python -m pytest"):
        assert f"```bash\n{command}\n```" in text
        assert f"\n{command}\n" in ci
