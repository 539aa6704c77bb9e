"""The README's runnable examples, read from README.md itself and run as written, so the README
cannot drift from the code (no copy of an example lives here).

A fenced ```python block is meant to run when the line before its fence is the marker
`<!-- test -->` (an HTML comment: invisible on GitHub and on the docs site). The documentation
pages (docs/*.md) may mark theirs the same way and are run too. Every block runs on its own, in a
fresh namespace; its `assert` lines are the checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARK = "<!-- test -->"
_BLOCK = re.compile(r"^" + re.escape(MARK) + r"[ \t]*\n```python[ \t]*\n(.*?)^```", re.M | re.S)


def marked_blocks(path: Path) -> list[tuple[int, str]]:
    """(line of the fence, code) of every ```python block marked to run in `path`."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]


def _cases() -> list:
    cases = []
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for line, code in marked_blocks(path):
            name = f"{path.relative_to(ROOT)}:{line}"
            cases.append(pytest.param(name, code, id=name))
    return cases


def test_the_readme_marks_its_gym_and_sandbox_examples():
    blocks = [code for _, code in marked_blocks(README)]
    assert any("reset_to(" in code for code in blocks), f"no README block marked {MARK} calls reset_to"
    assert any("make_sandbox(" in code for code in blocks), f"no README block marked {MARK} runs a sandbox"
    # a marker that does not sit right before a ```python fence would silently run nothing
    assert README.read_text().count(MARK) == len(blocks), f"every {MARK} must stand right before a ```python fence"


def test_marked_blocks_are_found_where_marked(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"# t\n\n```python\nskipped = 1\n```\n\n{MARK}\n```python\nx = 1\nassert x == 1\n```\n")
    assert marked_blocks(page) == [(8, "x = 1\nassert x == 1\n")]


@pytest.mark.parametrize("where, code", _cases())
def test_marked_example_runs_as_written(where, code):
    exec(compile(code, where, "exec"), {"__name__": "__readme_example__"})
