"""Math suite `chain`: long arithmetic chains whose one hard step sits at a controlled depth.

The language-model counterpart of the tabular `critical_chain(p)` (codereset/tabular/family.py):
a character's count goes through `length` events. Every event is easy (the count goes up by one)
except one, the *critical* event at thought `critical_depth` (1-based), which multiplies
the count by 3-7. A policy that has learned the easy events fails mostly at the critical thought,
so the first error of a failed rollout sits where the knob puts it, and every thought before it
is a clean prefix a reset can keep: the regime where the tabular checks say resets pay.

Thoughts are written in the `arith` format (``old op n = new``, the last one boxes the answer),
so `envs.oracle.first_error` judges them exactly and the warm-start's corruptions
(`codereset.sft.data`) apply unchanged. `step_values[i]` is the true count after thought i.

The knob: `critical_depth` = an int (every problem's hard step at that thought), a sequence of
ints (cycled over the problems: a depth distribution), or None (cycle over every depth 1..length:
one warm-start data set that serves every depth). Deterministic given the seed; the split of a
problem depends on its text only (`envs.tasks.task.split_of`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from envs.rules import DEFAULT_STOP
from envs.tasks.arith import _ITEMS, _PEOPLE
from envs.tasks.task import Task, draw_procedural

DEFAULT_N = {"train": 500, "val": 100, "test": 200}
DEFAULT_LENGTHS = (6, 7, 8)
# The easy event is +1: a warm-started 0.9M-parameter model that had to read +-2..4 events from
# the problem still made most of its first errors at thoughts 1-2 (30 of 40 greedy val failures
# at thought 1, wrong copies and subtractions), which is what this suite exists to avoid.
EASY_OPERANDS = (1,)
CRITICAL_FACTORS = (3, 4, 5, 6, 7)
START_RANGE = (12, 30)
# Each event and its thought are named by an ordinal word, so a small model can find the event a
# thought must perform (without it a warm-started 0.9M-parameter model lost its place in the
# chain: 34 of 40 greedy val failures at thought 1). Words, not numerals: numbers stated in the
# problem count as true quantities for the oracle.
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth",
            "Tenth", "Eleventh", "Twelfth")


def _easy(rng: random.Random, value: int, who: tuple[str, str, str], item: str):
    """(new value, sentence, reference step) of an easy event: +n, n in EASY_OPERANDS."""
    name, he, _ = who
    n = rng.choice(EASY_OPERANDS)
    sentence = rng.choice([f"{he.capitalize()} finds {n} more.", f"A friend gives {name} {n} more."])
    return value + n, sentence, f"{name} gets {n} more: {value} + {n} = {value + n}."


def _critical(rng: random.Random, value: int, who: tuple[str, str, str], item: str):
    """The hard event: the count is multiplied by a factor in CRITICAL_FACTORS."""
    name, _, _ = who
    k = rng.choice(CRITICAL_FACTORS)
    sentence = f"The number of {item} {name} has becomes {k} times as large."
    return value * k, sentence, f"The count becomes {k} times as large: {value} * {k} = {value * k}."


def make_problem(rng: random.Random, length: int, critical_depth: int,
                 stop: str = DEFAULT_STOP) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(problem text, reference thoughts, step values) of one chain with its hard event at
    thought `critical_depth` (1-based) of `length`."""
    if not 1 <= length <= len(ORDINALS):
        raise ValueError(f"chain length must be in 1..{len(ORDINALS)}, got {length}")
    if not 1 <= critical_depth <= length:
        raise ValueError(f"chain critical_depth must be in 1..{length} (the chain's length), "
                         f"got {critical_depth}")
    who = rng.choice(_PEOPLE)
    item = rng.choice(_ITEMS)
    value = start = rng.randint(*START_RANGE)
    sentences = [f"{who[0]} has {value} {item}."]
    thoughts, values = [], []
    for i in range(length):
        event = _critical if i + 1 == critical_depth else _easy
        value, sentence, step = event(rng, value, who, item)
        sentences.append(f"{ORDINALS[i]}, {sentence[0].lower()}{sentence[1:]}")
        if i == 0:
            step = f"{who[0]} starts with {start} {item}. " + step
        thoughts.append(f"{ORDINALS[i]}: {step}")
        values.append(str(value))
    sentences.append(f"How many {item} does {who[0]} have now?")
    thoughts[-1] += f" The answer is \\boxed{{{value}}}."
    reference = tuple(("\n" if i else "") + t + stop for i, t in enumerate(thoughts))
    return " ".join(sentences), reference, tuple(values)


def _depths(critical_depth: int | Sequence[int] | None, lengths: Sequence[int]) -> tuple[int, ...] | None:
    """The depth cycle asked for (None: every depth of each problem's own length)."""
    if critical_depth is None:
        return None
    depths = (critical_depth,) if isinstance(critical_depth, int) else tuple(int(d) for d in critical_depth)
    if not depths or any(not 1 <= d <= min(lengths) for d in depths):
        raise ValueError(f"chain critical_depth {critical_depth!r}: each depth must be in "
                         f"1..{min(lengths)} (the shortest chain length of {tuple(lengths)})")
    return depths


def load(split: str = "train", seed: int = 0, n: int | None = None,
         lengths: Sequence[int] = DEFAULT_LENGTHS,
         critical_depth: int | Sequence[int] | None = None) -> list[Task]:
    """`n` tasks of `split` (default `DEFAULT_N[split]`); lengths cycle over `lengths`, the hard
    step's depth over `critical_depth` (see the module docstring)."""
    n = DEFAULT_N[split] if n is None else n
    lengths = tuple(int(x) for x in lengths)
    if not lengths or any(x < 1 for x in lengths):
        raise ValueError(f"chain lengths must be positive thought counts, got {lengths}")
    depths = _depths(critical_depth, lengths)

    def make(rng: random.Random, attempt: int):
        length = lengths[attempt % len(lengths)]
        depth = (depths[(attempt // len(lengths)) % len(depths)] if depths is not None
                 else 1 + (attempt // len(lengths)) % length)
        problem, reference, values = make_problem(rng, length, depth)
        return f"{length}-d{depth}", problem, reference, values, length

    return draw_procedural("chain", split, seed, n, make)


def critical_depth_of(task: Task) -> int:
    """The 1-based thought of `task`'s hard event, read from its task id."""
    if task.suite != "chain":
        raise ValueError(f"task {task.task_id!r} is not a chain task")
    return int(task.task_id.split("-d", 1)[1].split("-", 1)[0])
