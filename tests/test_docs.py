"""The documentation site: the configuration reference it generates from the config dataclasses'
docstrings covers every field, the pages and the README name only repository paths that exist, the
README's links resolve, and (slow, needs the `docs` extra) `mkdocs build --strict` passes, as in
`.ci/run`."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config_classes(cls: type, seen: set[type]) -> set[type]:
    if cls in seen:
        return seen
    seen.add(cls)
    for tp in typing.get_type_hints(cls).values():
        if dataclasses.is_dataclass(tp):
            _config_classes(tp, seen)
    return seen


def test_every_config_field_has_a_doc_line():
    from codereset.config import EvaluateConfig, TrainConfig

    hooks = _hooks()
    classes = _config_classes(TrainConfig, set()) | _config_classes(EvaluateConfig, set())
    undocumented = [f"{cls.__name__}.{f.name}" for cls in classes
                    for f in dataclasses.fields(cls) if f.name not in hooks.field_docs(cls)[1]]
    assert not undocumented, f"fields without a `name: ...` line in their dataclass docstring: {undocumented}"


def test_field_docs_reads_continued_lines_and_shared_lines():
    @dataclasses.dataclass
    class Example:
        """What it is.

        lr: learning rate. eps: Adam epsilon.
        steps: how many,
            continued here.
        """

        lr: float = 1.0
        eps: float = 1e-8
        steps: int = 1

    summary, docs = _hooks().field_docs(Example)
    assert summary == "What it is."
    assert docs == {"lr": "learning rate.", "eps": "Adam epsilon.", "steps": "how many, continued here."}


def test_the_pages_name_only_paths_that_exist():
    hooks = _hooks()
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    missing = {page.name: hooks.missing_paths(page.read_text()) for page in pages}
    assert not {page: paths for page, paths in missing.items() if paths}


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="needs the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="needs the docs extra: pip install -e '.[docs]'")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "configuration.html").is_file()


def _github_slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def test_the_readme_links_resolve():
    """Every relative link of README.md names a file that exists (the docs pages among them), and
    every in-page anchor a heading of the README."""
    text = (ROOT / "README.md").read_text()
    anchors = {_github_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        if path and not (ROOT / path).exists():
            broken.append(target)
        elif not path and anchor not in anchors:
            broken.append(target)
    assert not broken, f"README links that lead nowhere: {broken}"
