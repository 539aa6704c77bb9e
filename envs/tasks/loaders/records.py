"""Reading records for the file loaders: JSONL / JSON files or a Hugging Face hub dataset.

Every record comes with where it was read (file and line, or hub dataset and row), and
`Record.get` raises `DataFormatError` naming file, line and field when a field is missing or of
the wrong type, so a malformed file says exactly what to fix.

Hub data: when `hub=` is given, rows come from ``datasets.load_dataset(hub, hub_config,
split=...)``; that needs the `datasets` library and network access to the hub.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MISSING = object()


class DataFormatError(ValueError):
    """A record that does not match its format; the message names file, line and field."""


@dataclass(frozen=True)
class Record:
    """One input row and where it came from."""

    data: dict[str, Any]
    source: str
    line: int

    def error(self, field: str, problem: str) -> DataFormatError:
        return DataFormatError(f"{self.source}, line {self.line}, field {field!r}: {problem}")

    def get(self, field: str, types: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        """Field `field`, checked to be of `types`; a missing field is an error unless a default is given."""
        if field not in self.data or self.data[field] is None:
            if default is _MISSING:
                raise self.error(field, "missing (required)")
            return default
        value = self.data[field]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            names = " or ".join(t.__name__ for t in _as_tuple(types))
            raise self.error(field, f"expected {names}, got {type(value).__name__}")
        return value

    def get_json(self, field: str, default: Any = _MISSING) -> Any:
        """Field that may hold JSON text (as LiveCodeBench and APPS store tests): decoded."""
        value = self.get(field, (str, list, dict), default)
        if not isinstance(value, str):
            return value
        if not value.strip():
            if default is _MISSING:
                raise self.error(field, "is empty")
            return default
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise self.error(field, f"holds text that is not valid JSON ({err})") from None


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _utf8_text(path: Path) -> str:
    """The file's text; a byte that is not UTF-8 raises DataFormatError naming line and column."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataFormatError(f"{path}, line {line}, column {column}: byte 0x{data[err.start]:02x} is not "
                              "UTF-8; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def _file_records(path: Path) -> Iterator[Record]:
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {source} does not exist")
    text = _utf8_text(path)
    if not text.strip():
        raise DataFormatError(f"{source}: the file is empty; a .jsonl file holds one JSON object per line "
                              "(a .json file, a list of objects)")
    if path.suffix == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataFormatError(f"{source}, line {err.lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(rows, list):
            raise DataFormatError(f"{source}: a .json data file must hold a list of objects")
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise DataFormatError(f"{source}, item {i}: expected a JSON object, got {type(row).__name__}")
            yield Record(row, source, i)
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataFormatError(f"{source}, line {lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise DataFormatError(f"{source}, line {lineno}: expected a JSON object, got {type(row).__name__}")
        yield Record(row, source, lineno)


def _hub_records(hub: str, config: str | None, split: str, hub_kwargs: dict[str, Any]) -> Iterator[Record]:
    try:
        import datasets
    except ImportError as err:
        raise ImportError(f"loading {hub!r} from the hub needs the 'datasets' library (pip install datasets); "
                          "or download the data and pass path=") from err
    rows = datasets.load_dataset(hub, config, split=split, **hub_kwargs)
    source = f"hub dataset {hub}" + (f"/{config}" if config else "") + f" [{split}]"
    for i, row in enumerate(rows, start=1):
        yield Record(dict(row), source, i)


def read_records(path: str | Path | None = None, hub: str | None = None, split: str = "train",
                 hub_config: str | None = None, hub_split: str | None = None,
                 hub_kwargs: dict[str, Any] | None = None) -> Iterator[Record]:
    """Records of a .jsonl / .json file (`path`) or of hub dataset `hub` (split `hub_split`, default `split`)."""
    if (path is None) == (hub is None):
        raise ValueError("give exactly one of path= (a .jsonl/.json file) or hub= (a hub dataset name)")
    if path is not None:
        return _file_records(Path(path))
    return _hub_records(hub, hub_config, hub_split or split, dict(hub_kwargs or {}))


def take_records(kw: dict[str, Any], split: str) -> list[Record]:
    """Records for a loader's keywords: those of `read_records` plus ``n`` (keep the first n)."""
    kw = dict(kw)
    n = kw.pop("n", None)
    known = {"path", "hub", "hub_config", "hub_split", "hub_kwargs"}
    unknown = sorted(set(kw) - known)
    if unknown:
        raise TypeError(f"unknown loader options {unknown}; known: {sorted(known | {'n'})}")
    records = []
    for record in read_records(split=split, **kw):
        if n is not None and len(records) >= n:
            break
        records.append(record)
    return records
