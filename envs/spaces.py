"""Gymnasium spaces for text: any Unicode string (observations) and one thought (actions).

Gymnasium's `Text` space only contains strings over a fixed character set. Observations and
thoughts are model output, so any Unicode character must be allowed: `AnyText` keeps `Text`'s
length bounds but accepts every character; its `charset` is only the alphabet `sample` draws
from. Such strings have no fixed character index, so these spaces are not flattenable.
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium.spaces import Text

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
