"""Gymnasium spaces for text: any Unicode string (observations) and one thought (actions).

Gymnasium's `Text` space only contains strings over a fixed character set. Observations and
thoughts are model output, so any Unicode character must be allowed: `AnyText` keeps `Text`'s
length bounds but accepts every character; its `charset` is only the alphabet `sample` draws
from. Such strings have no fixed character index, so these spaces are not flattenable.

Async vector envs (`gymnasium.make_vec(..., vectorization_mode="async")`) pass observations
through shared memory by default. Gymnasium's `Text` version stores character indices (a
character outside `charset`, such as '<', raised `KeyError`) and reads the strings only once;
`AnyText` registers its own: a UTF-8 slot of `SHARED_MEMORY_BYTES` per env, read at every step
(an observation that does not fit raises `ValueError` saying to pass
``vector_kwargs={"shared_memory": False}``, which sends observations through the pipes instead).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Text
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

from envs.rules import ThoughtRules

# Alphabet for sampling: printable ASCII without '<' and '>' (so no sample forms a stop pattern
# by chance) plus a few non-ASCII letters, so samplers exercise Unicode.
SAMPLE_CHARSET = "".join(c for c in string.printable if c not in "<>\x0b\x0c") + "éßπ日本∑"


class AnyText(Text):
    """Every Unicode string of `min_length`..`max_length` characters.

    Args:
        max_length: longest string (characters).
        min_length: shortest string.
        sample_max_length: longest string `sample` draws (without a length mask).
        seed: seed of the sampler.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, sample_max_length: int = 64,
                 seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)
        self.sample_max_length = max(min_length, min(sample_max_length, max_length))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is None and probability is None:
            length = int(self.np_random.integers(self.min_length, self.sample_max_length + 1))
            mask = (length, None)
        return super().sample(mask=mask, probability=probability)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (self.min_length, self.max_length) == (
            other.min_length, other.max_length)  # type: ignore[attr-defined]


class ThoughtSpace(AnyText):
    """One thought: a non-empty string holding the stop pattern at most once, at its end.

    `sample` draws random text and closes it with the stop pattern.
    """

    def __init__(self, rules: ThoughtRules, max_length: int, *, seed: Any = None) -> None:
        super().__init__(max_length, min_length=1, seed=seed)
        self.rules = rules

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        try:
            self.rules.check_thought(x)
        except ValueError:
            return False
        return True

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        body = super().sample(mask=mask, probability=probability)
        room = self.max_length - len(self.rules.stop)
        return body[:max(room, 0)] + self.rules.stop

    def __repr__(self) -> str:
        return f"ThoughtSpace(stop={self.rules.stop!r}, max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and self.rules == other.rules  # type: ignore[attr-defined]


# -- shared memory of async vector envs --------------------------------------------------------
SHARED_MEMORY_BYTES = 1 << 20  # UTF-8 bytes of one env's observation in an AsyncVectorEnv
_HEADER = 8  # each slot starts with the text's byte length (int64)


class SharedTexts(Sequence):
    """The observations of an AsyncVectorEnv's envs, read from its shared memory when accessed
    (a deep copy, which the vector env returns by default, is a plain tuple of str)."""

    def __init__(self, buffer: Any, n: int) -> None:
        self.buffer, self.n = buffer, n

    def _slots(self) -> np.ndarray:
        return np.frombuffer(self.buffer.get_obj(), dtype=np.uint8).reshape(self.n, _HEADER + SHARED_MEMORY_BYTES)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        slot = self._slots()[index]
        size = int(slot[:_HEADER].view(np.int64)[0])
        return bytes(slot[_HEADER:_HEADER + size]).decode("utf-8")

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) else other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@create_shared_memory.register(AnyText)
def _create_any_text_shared_memory(space: AnyText, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing

    return (ctx or multiprocessing).Array("B", n * (_HEADER + SHARED_MEMORY_BYTES))


@read_from_shared_memory.register(AnyText)
def _read_any_text_from_shared_memory(space: AnyText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(shared_memory, n)


@write_to_shared_memory.register(AnyText)
def _write_any_text_to_shared_memory(space: AnyText, index: int, value: str, shared_memory: Any) -> None:
    data = value.encode("utf-8")
    if len(data) > SHARED_MEMORY_BYTES:
        raise ValueError(f"an observation of {len(data)} UTF-8 bytes does not fit the async vector env's "
                         f"shared memory ({SHARED_MEMORY_BYTES} bytes per env): make the vector env with "
                         "vector_kwargs={'shared_memory': False}")
    slot = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8)[
        index * (_HEADER + SHARED_MEMORY_BYTES):(index + 1) * (_HEADER + SHARED_MEMORY_BYTES)]
    slot[:_HEADER] = np.frombuffer(np.int64(len(data)).tobytes(), dtype=np.uint8)
    slot[_HEADER:_HEADER + len(data)] = np.frombuffer(data, dtype=np.uint8)
