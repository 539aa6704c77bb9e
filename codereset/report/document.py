"""A tiny document model (headings, paragraphs, lists, tables, figures) and its two renderers:
Markdown (figures linked as files next to the report) and self-contained HTML (figures embedded
as base64 PNG, styles inline). The report is built once as blocks and rendered twice, so the two
outputs cannot disagree.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    """A table of already-formatted cells; `caption` is shown above it."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Figure:
    """A PNG file (path relative to the report's directory) with a caption under it."""

    path: str
    caption: str
    alt: str = ""


Block = Heading | Para | Bullets | Table | Figure


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    """GitHub-flavoured Markdown; figures as relative image links."""
    out = [f"# {doc.title}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Para):
            out += [block.text, ""]
        elif isinstance(block, Bullets):
            out += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            if block.caption:
                out += [f"*{block.caption}*", ""]
            out.append("| " + " | ".join(map(_md_cell, block.header)) + " |")
            out.append("|" + "|".join("---" for _ in block.header) + "|")
            out += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in block.rows]
            out.append("")
        elif isinstance(block, Figure):
            alt = block.alt or Path(block.path).stem.replace("_", " ")
            out += [f"![{_md_cell(alt)}]({block.path})", "", f"*{block.caption}*", ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .4em 0 1.2em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 9px; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafa; }
.caption { font-style: italic; color: #555; margin: .6em 0 .2em; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-style: italic; color: #555; font-size: 14px; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def _inline(text: str) -> str:
    """Escaped text with `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


_NUMERIC = re.compile(r"^(—|[-−]?[\d.,]+(x| ± [\d.,]+)?|\[.*\]|\d+/\d+|\d+–\d+)$")


def _td(cell: str) -> str:
    """A table cell; numbers are right-aligned."""
    cls = " class='num'" if _NUMERIC.match(cell) else ""
    return f"<td{cls}>{html.escape(cell)}</td>"


def to_html(doc: Document, base_dir: Path) -> str:
    """One HTML file with every figure embedded; `base_dir` resolves figure paths."""
    esc = html.escape
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{esc(doc.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{esc(doc.title)}</h1>"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(6, max(2, block.level))
            out.append(f"<h{level}>{esc(block.text)}</h{level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            if block.caption:
                out.append(f"<div class='caption'>{esc(block.caption)}</div>")
            head = "".join(f"<th>{esc(str(h))}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(_td(str(c)) for c in row) + "</tr>"
                           for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Figure):
            data = base64.b64encode((base_dir / block.path).read_bytes()).decode("ascii")
            alt = block.alt or Path(block.path).stem.replace("_", " ")
            out.append(f"<figure><img alt='{esc(alt)}' "
                       f"src='data:image/png;base64,{data}'>"
                       f"<figcaption>{esc(block.caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
