"""Math suite `arith`: procedural multi-step arithmetic word problems with step-level truth.

A character starts with some items and then `difficulty` events change the count (buy more,
give away, double/triple, share equally). Each reference thought performs one event as an
equation ``old op n = new``; the last one also boxes the answer. `step_values[i]` is the true
count after thought i, which is what `envs.oracle.first_error` checks a rollout against.

Deterministic given the seed; the split of a problem depends on its text only (see
`envs.tasks.task.split_of`), so splits never share a problem.
"""

from __future__ import annotations

import random

from envs.rules import DEFAULT_STOP
from envs.tasks.task import Task, draw_procedural

# Default number of tasks per split and the difficulty (number of steps) range.
DEFAULT_N = {"train": 500, "val": 100, "test": 200}
DEFAULT_DIFFICULTIES = (1, 2, 3, 4, 5, 6)
MAX_VALUE = 300  # counts stay small so that a small model's arithmetic is the bottleneck

_PEOPLE = [("Tom", "he", "his"), ("Anna", "she", "her"), ("Ravi", "he", "his"),
           ("Mia", "she", "her"), ("Kenji", "he", "his"), ("Lucia", "she", "her"),
           ("Omar", "he", "his"), ("Grace", "she", "her"), ("Ben", "he", "his"),
           ("Zoe", "she", "her"), ("Ivan", "he", "his"), ("Nora", "she", "her")]
_ITEMS = ["apples", "marbles", "stickers", "coins", "cards", "books", "pencils", "stamps",
          "shells", "cookies", "beads", "buttons"]


def _op_add(rng: random.Random, v: int, who: tuple[str, str, str], item: str):
    n = rng.randint(2, 25)
    if v + n > MAX_VALUE:
        return None
    name, he, _ = who
    sentence = rng.choice([f"Then {he} buys {n} more {item}.", f"{he.capitalize()} finds {n} more {item}.",
                           f"A friend gives {name} {n} {item}."])
    return v + n, sentence, f"{name} gets {n} more: {v} + {n} = {v + n}."


def _op_sub(rng: random.Random, v: int, who: tuple[str, str, str], item: str):
    if v < 2:
        return None
    n = rng.randint(1, min(v - 1, 25))
    name, he, _ = who
    sentence = rng.choice([f"{he.capitalize()} gives {n} {item} to a friend.",
                           f"{he.capitalize()} loses {n} {item}.", f"Then {he} uses {n} of the {item}."])
    return v - n, sentence, f"{name} has {n} fewer: {v} - {n} = {v - n}."


def _op_mul(rng: random.Random, v: int, who: tuple[str, str, str], item: str):
    k = rng.choice([2, 3])
    if v * k > MAX_VALUE:
        return None
    name, he, his = who
    word = {2: "doubles", 3: "triples"}[k]
    sentence = f"Then the number of {item} {name} has {word}."
    return v * k, sentence, f"The count {word}: {v} * {k} = {v * k}."


def _op_div(rng: random.Random, v: int, who: tuple[str, str, str], item: str):
    divisors = [k for k in range(2, 7) if v % k == 0 and v // k >= 1]
    if not divisors:
        return None
    k = rng.choice(divisors)
    name, he, his = who
    sentence = f"{he.capitalize()} splits {his} {item} equally into {k} bags and keeps only one bag."
    return v // k, sentence, f"{name} keeps one of {k} equal bags: {v} / {k} = {v // k}."


_OPS = (_op_add, _op_sub, _op_mul, _op_div)


def make_problem(rng: random.Random, steps: int, stop: str = DEFAULT_STOP) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(problem text, reference thoughts, step values) of one `steps`-step word problem."""
    who = rng.choice(_PEOPLE)
    item = rng.choice(_ITEMS)
    value = start = rng.randint(3, 40)
    sentences = [f"{who[0]} has {value} {item}."]
    thoughts, values = [], []
    for i in range(steps):
        for _ in range(50):
            made = rng.choice(_OPS)(rng, value, who, item)
            if made is not None:
                break
        else:  # only reachable for degenerate values; add always fits below MAX_VALUE / 2
            made = (value + 1, f"Then {who[1]} buys 1 more {item[:-1]}.",
                    f"{who[0]} gets 1 more: {value} + 1 = {value + 1}.")
        value, sentence, step = made
        sentences.append(sentence)
        if i == 0:
            step = f"{who[0]} starts with {start} {item}. " + step
        thoughts.append(step)
        values.append(str(value))
    sentences.append(f"How many {item} does {who[0]} have now?")
    thoughts[-1] += f" The answer is \\boxed{{{value}}}."
    reference = tuple(("\n" if i else "") + t + stop for i, t in enumerate(thoughts))
    return " ".join(sentences), reference, tuple(values)


def load(split: str = "train", seed: int = 0, n: int | None = None,
         difficulties: tuple[int, ...] = DEFAULT_DIFFICULTIES) -> list[Task]:
    """`n` tasks of `split` (default `DEFAULT_N[split]`), difficulties cycling over `difficulties`."""
    n = DEFAULT_N[split] if n is None else n
    if any(d < 1 for d in difficulties) or not difficulties:
        raise ValueError(f"arith difficulties must be positive step counts, got {difficulties}")

    def make(rng: random.Random, attempt: int):
        steps = difficulties[attempt % len(difficulties)]
        problem, reference, values = make_problem(rng, steps)
        return str(steps), problem, reference, values, steps

    return draw_procedural("arith", split, seed, n, make)
