"""Registry of task suites: name -> how to load it. `load_suite` is the one way to get tasks.

Entries name their loader as ``"module:function"`` so that importing `envs` loads no suite (and
imports no optional dependency) until one is asked for.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from envs.tasks.task import Task

log = logging.getLogger("envs.tasks")


@dataclass(frozen=True)
class SuiteSpec:
    """A registered suite.

    Attributes:
        name: registry key.
        kind: "code", "math", or "any" (a file format that holds either).
        loader: ``"module:function"``; the function takes ``(split, seed, **kw)`` and returns
            a list of `Task`.
        splits: the splits it provides; None for file loaders, which label their tasks with
            whatever split is asked for (and pass it on to a hub dataset).
        doc: one line for listings.
    """

    name: str
    kind: str
    loader: str
    splits: tuple[str, ...] | None
    doc: str


SUITES: dict[str, SuiteSpec] = {}


def register_suite(spec: SuiteSpec) -> None:
    """Add a suite; a name is registered once."""
    if spec.name in SUITES:
        raise ValueError(f"task suite {spec.name!r} is already registered")
    SUITES[spec.name] = spec


def suite_spec(name: str) -> SuiteSpec:
    """The registered suite `name`; unknown names raise ValueError listing the known ones."""
    try:
        return SUITES[name]
    except KeyError:
        raise ValueError(f"unknown task suite {name!r}; known suites: {sorted(SUITES)}") from None


def default_split(spec: SuiteSpec) -> str:
    """The split a suite is loaded with when none is asked for: its only split when it has one
    (humaneval: "test"), else "train"."""
    return spec.splits[0] if spec.splits is not None and len(spec.splits) == 1 else "train"


def load_suite(name: str, split: str | None = None, seed: int = 0, **kw) -> list[Task]:
    """Tasks of suite `name` for `split` (None: `default_split`); procedural suites are
    deterministic given `seed`.

    Extra keywords go to the suite's loader (e.g. ``n=`` task count, ``path=`` for file loaders).
    """
    spec = suite_spec(name)
    if split is None:
        split = default_split(spec)
    if spec.splits is not None and split not in spec.splits:
        raise ValueError(
            f"task suite {name!r} has no split {split!r}; its splits: {list(spec.splits)}"
        )
    module_name, func_name = spec.loader.split(":")
    loader = getattr(importlib.import_module(module_name), func_name)
    return loader(split=split, seed=seed, **kw)


def load_suite_of_kind(name: str, kind: str, split: str | None = None, seed: int = 0, **kw) -> list[Task]:
    """`load_suite` for an env of `kind`: a file holding code and math rows (a suite of kind
    "any", e.g. jsonl) gives its rows of `kind`, and a warning says how many of the other kind it
    left out; ValueError when none is left. Suites of one kind are returned as they are."""
    tasks = load_suite(name, split, seed, **kw)
    if suite_spec(name).kind != "any":
        return tasks
    kept = [t for t in tasks if t.kind == kind]
    other = len(tasks) - len(kept)
    where = kw.get("path") or kw.get("hub") or name
    split = split or default_split(suite_spec(name))
    env = "ThoughtMDP-Math-v0" if kind == "code" else "ThoughtMDP-Code-v0"
    if not kept:
        raise ValueError(f"{where} ({split} split): none of its {len(tasks)} rows is a {kind} task (kind "
                         f"field); use the {env} env for them, or add rows with \"kind\": \"{kind}\"")
    if other:
        log.warning("%s (%s split): kept its %d %s task(s), left out %d row(s) of the other kind (the %s "
                    "env takes those)", where, split, len(kept), kind, other, env)
    return kept
