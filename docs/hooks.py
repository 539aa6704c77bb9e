"""MkDocs hooks: the parts of the documentation that are generated from the code, and a check
that every repository path a page names exists.

A page asks for generated content with a marker on a line of its own; the marker is replaced at
build time (so the text cannot drift from the code):

    <!-- gen:config train -->         every key of `TrainConfig` (codereset/config/): its type,
                                      default and the doc line of its dataclass docstring
    <!-- gen:config evaluate -->      the same for `EvaluateConfig` (its own `eval` section)
    <!-- gen:presets -->              every preset conf/<group>/<name>.yaml with its header comment
    <!-- gen:docstring MODULE -->     a module's docstring, verbatim, as a text block
    <!-- gen:results-index -->        the index table of benchmarks/results/README.md

Checks, logged as warnings so that `mkdocs build --strict` fails on them:
  - a config field whose dataclass docstring has no `name: ...` line for it;
  - a repository path named in backticks (`codereset/...`, `benchmarks/...`, `tests/...`, ...)
    or a script run in a code block (`python benchmarks/x.py`) that does not exist.

`python docs/hooks.py [train|evaluate|presets]` prints the generated Markdown.
"""

from __future__ import annotations

import dataclasses
import html
import importlib
import inspect
import logging
import re
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("mkdocs.plugins.codereset")

# Top-level folders whose paths a page may name; a named path must exist.
REPO_ROOTS = ("codereset", "envs", "sandboxes", "benchmarks", "tests", "conf", "scripts", "docs")
_MARKER = re.compile(r"^<!-- gen:([\w-]+)(?: ([\w.]+))? -->$", re.M)


def _ensure_importable() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# -- configuration reference --------------------------------------------------------------------
def field_docs(cls: type) -> tuple[str, dict[str, str]]:
    """(summary, {field: doc}) from a config dataclass's docstring, whose field lines read
    ``name: what it does`` (continued on indented lines; several may share a line, each after a
    full stop: ``lr: learning rate. eps: Adam epsilon.``)."""
    names = [f.name for f in dataclasses.fields(cls)]
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    summary: list[str] = []
    entries: list[list[str]] = []
    for line in lines:
        head = re.match(r"^(\w+): ", line)
        if head and head.group(1) in names:
            entries.append([line])
        elif entries and (line.startswith(" ") or not line.strip()):
            entries[-1].append(line.strip())
        elif entries:
            entries[-1].append(line.strip())
        else:
            summary.append(line.strip())
    docs: dict[str, str] = {}
    split = re.compile(r"(?:^|(?<=\. ))(" + "|".join(map(re.escape, names)) + r"): ")
    for entry in entries:
        text = " ".join(part for part in entry if part).strip()
        starts = [m for m in split.finditer(text)]
        for i, m in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            docs[m.group(1)] = text[m.end():end].strip()
    return " ".join(s for s in summary if s).strip(), docs


def _type_name(tp: object, raw: str) -> str:
    text = raw if isinstance(raw, str) else getattr(tp, "__name__", str(tp))
    text = re.sub(r"Optional\[(.*)\]$", r"\1 | None", text)
    return text.replace("typing.", "")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return "required"
    if value == "???":  # omegaconf.MISSING
        return "required"
    return f"`{value!r}`"


def _cell(text: str) -> str:
    """Text for a table cell: a pipe is escaped, inside a code span as an HTML entity (a
    backslash there would show)."""
    def code(m: re.Match) -> str:
        return "<code>" + html.escape(m.group(1)).replace("|", "&#124;") + "</code>"
    text = re.sub(r"`([^`]*\|[^`]*)`", code, text.replace("\n", " "))
    return _escape_outside_code(text)


def _escape_outside_code(text: str) -> str:
    parts = re.split(r"(<code>.*?</code>)", text)
    return "".join(p if p.startswith("<code>") else p.replace("|", "\\|") for p in parts)


def config_sections(cls: type, prefix: str = "", level: int = 2) -> list[str]:
    """Markdown for one config dataclass: a heading per section (nested dataclasses become their
    own sections), a table of its plain keys with type, default and doc."""
    hints = typing.get_type_hints(cls)
    summary, docs = field_docs(cls)
    out: list[str] = []
    title = f"`{prefix}`" if prefix else f"`{cls.__name__}`"
    out.append(f"{'#' * level} {title}")
    out.append("")
    out.append(f"*{cls.__module__}.{cls.__name__}*" + (f": {summary}" if summary else ""))
    out.append("")
    rows, nested = [], []
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        doc = docs.get(f.name)
        if doc is None:
            log.warning("config docs: %s.%s (%s) has no `%s: ...` line in its docstring",
                        cls.__module__, cls.__name__, f.name, f.name)
            doc = ""
        tp = hints.get(f.name)
        if dataclasses.is_dataclass(tp):
            rows.append(f"| `{key}` | {tp.__name__} | [section below](#{_anchor(key)}) | {_cell(doc)} |")
            nested.append((tp, key))
        else:
            rows.append(f"| `{key}` | {_cell('`' + _type_name(tp, f.type) + '`')} | {_cell(_default(f))} | {_cell(doc)} |")
    out += ["| key | type | default | what it does |", "|---|---|---|---|", *rows, ""]
    for tp, key in nested:
        out += config_sections(tp, key, min(level + 1, 4))
    return out


def _anchor(key: str) -> str:
    """The anchor MkDocs' toc gives a heading `key` (in backticks)."""
    return re.sub(r"[^\w-]", "", key.lower().replace(" ", "-"))


def config_reference(which: str) -> str:
    _ensure_importable()
    from codereset.config import EvaluateConfig, TrainConfig

    if which == "train":
        cls, command = TrainConfig, "python -m codereset.train"
    elif which == "evaluate":
        cls, command = EvaluateConfig, "python -m codereset.evaluate"
    else:
        raise ValueError(f"gen:config takes train or evaluate, not {which!r}")
    _, docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    out = [f"`{command}` takes every key below as `key=value` on the command line "
           f"(the schema: `{cls.__module__}.{cls.__name__}`).", ""]
    top_rows = []
    sections = []
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        doc = docs.get(f.name)
        if doc is None:
            log.warning("config docs: %s has no `%s: ...` line in its docstring", cls.__name__, f.name)
            doc = ""
        if dataclasses.is_dataclass(tp):
            if which == "evaluate" and f.name != "eval":
                top_rows.append(f"| `{f.name}` | {tp.__name__} | as in training: "
                                f"[`{f.name}`](#{_anchor(f.name)}) | {_cell(doc)} |")
                continue
            top_rows.append(f"| `{f.name}` | {tp.__name__} | [section](#{_anchor(f.name)}) | {_cell(doc)} |")
            sections.append((tp, f.name))
        else:
            top_rows.append(f"| `{f.name}` | {_cell('`' + _type_name(tp, f.type) + '`')} | {_cell(_default(f))} | {_cell(doc)} |")
    out += ["| key | type | default | what it does |", "|---|---|---|---|", *top_rows, ""]
    for tp, key in sections:
        out += config_sections(tp, key, 3)
    return "\n".join(out)


def presets() -> str:
    """Every conf/<group>/<name>.yaml with its leading comment (the preset's own description)."""
    out = ["| group | preset | what it sets |", "|---|---|---|"]
    for group in sorted(p for p in (ROOT / "conf").iterdir() if p.is_dir()):
        for path in sorted(group.glob("*.yaml")):
            comment = []
            for line in path.read_text().splitlines():
                if not line.startswith("#"):
                    break
                text = line.lstrip("#").strip()
                if not text.startswith("@package"):
                    comment.append(text)
            out.append(f"| `{group.name}` | `{path.stem}` | {_cell(' '.join(comment))} |")
    return "\n".join(out)


# -- other generated blocks ----------------------------------------------------------------------
def module_docstring(module: str) -> str:
    _ensure_importable()
    doc = inspect.getdoc(importlib.import_module(module)) or ""
    if not doc:
        log.warning("gen:docstring %s: the module has no docstring", module)
    return "```text\n" + doc + "\n```"


def results_index() -> str:
    """benchmarks/results/README.md's index table, its links made repository paths."""
    text = (ROOT / "benchmarks/results/README.md").read_text()
    table = text.split("## Index", 1)[1].split("\n## ", 1)[0].strip()
    return re.sub(r"\[([\w-]+)\]\(([\w-]+)/README\.md\)", r"`benchmarks/results/\2/`", table)


def generate(kind: str, arg: str | None) -> str:
    if kind == "config":
        return config_reference(arg or "train")
    if kind == "presets":
        return presets()
    if kind == "docstring":
        return module_docstring(arg or "codereset")
    if kind == "results-index":
        return results_index()
    log.warning("unknown generator marker gen:%s", kind)
    return ""


# -- repository paths named by a page ----------------------------------------------------------
_PATH_IN_CODE = re.compile(r"`((?:%s)/[^`\s]*)`" % "|".join(REPO_ROOTS))
_SCRIPT_IN_BLOCK = re.compile(r"(?<![\w/.-])((?:%s)/[\w/.-]+\.(?:py|sh|yaml|md|jsonl?))\b" % "|".join(REPO_ROOTS))


def missing_paths(markdown: str) -> list[str]:
    """Repository paths the page names that do not exist: backticked paths, and files named in
    fenced code blocks. Placeholders (<name>, DIR, *) are skipped."""
    found = set(_PATH_IN_CODE.findall(markdown))
    for block in re.findall(r"```.*?\n(.*?)```", markdown, flags=re.S):
        found.update(_SCRIPT_IN_BLOCK.findall(block))
    missing = []
    for raw in sorted(found):
        path = raw.rstrip(".,:;)")
        path = re.split(r"[#:]", path, maxsplit=1)[0]
        if re.search(r"[<>*{}$]|\bDATE\b|\bNAME\b|\bDIR\b|\bFILE\b", path):
            continue
        if not (ROOT / path).exists():
            missing.append(raw)
    return missing


# -- MkDocs events ----------------------------------------------------------------------------
def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs' signature)
    markdown = _MARKER.sub(lambda m: generate(m.group(1), m.group(2)), markdown)
    for path in missing_paths(markdown):
        log.warning("%s names `%s`, which does not exist in the repository", page.file.src_path, path)
    return markdown


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "train"
    print(presets() if what == "presets" else config_reference(what))
