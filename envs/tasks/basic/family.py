"""A family of procedural function-writing tasks, and the registry of families.

A family draws one task instance from a `random.Random`: the function's name, the exact
behaviour asked for (family constants such as a divisor or a shift), a reference solution and
the inputs of the hidden tests. Expected outputs are computed by running the reference solution
here (it is our code), so a reference passes its own tests by construction; tests check it
through the real sandbox anyway.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    """One drawn task instance.

    Attributes:
        entry_point: the function's name.
        params: its parameter list as written in the signature, e.g. "a, b".
        description: what it returns, completing "Write a Python function `f(a, b)` that ...".
        solution: reference solution source (defines `entry_point`).
        plan: the reference's reasoning thought (one or two sentences).
        inputs: argument tuples of the hidden tests; the first one is shown as the example.
    """

    entry_point: str
    params: str
    description: str
    solution: str
    plan: str
    inputs: tuple[tuple, ...]


@dataclass(frozen=True)
class Family:
    """A registered family: `make(rng) -> Spec`; `difficulty` 1 easy, 2 medium, 3 hard."""

    name: str
    difficulty: int
    make: Callable[[random.Random], Spec]


FAMILIES: dict[str, Family] = {}


def family(name: str, difficulty: int) -> Callable[[Callable[[random.Random], Spec]], Callable[[random.Random], Spec]]:
    """Decorator registering `make` as the family `name`."""

    def register(make: Callable[[random.Random], Spec]) -> Callable[[random.Random], Spec]:
        if name in FAMILIES:
            raise ValueError(f"basic task family {name!r} is registered twice")
        FAMILIES[name] = Family(name, difficulty, make)
        return make

    return register


# Small helpers shared by the family modules.
WORDS = ["apple", "river", "stone", "light", "green", "table", "music", "cloud", "tiger", "bread",
         "house", "smile", "ocean", "paper", "chair", "dream", "earth", "flame", "glass", "honey"]


def ints(rng: random.Random, n: int, lo: int = -20, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def sentence(rng: random.Random, lo: int = 1, hi: int = 5) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def word(rng: random.Random, lo: int = 1, hi: int = 9, letters: str = "abcdefghijklmnopqrstuvwxyz") -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(lo, hi)))
