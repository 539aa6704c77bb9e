"""The generation interface every backend implements, and the stop-string bookkeeping they share.

Owns: `Sampling` (how to sample), `Completion` (one continuation), the abstract
`GenerationBackend`, and two helpers every backend uses so they agree to the token:
`as_token_ids` (a prefix is token ids used as is, or a string tokenized once) and
`stop_cut` (where a continuation ends given stop strings and EOS).

Contract of `generate`: for each prefix, `n` continuations. A continuation ends at the first stop
string found in the *generated* text (the prefix is never searched), at EOS, or after
`max_new_tokens`. When a stop string ends it, `token_ids` end with the token that completes the
stop string (that token may carry a few characters past the stop string: `text` is always exactly
`tokenizer.decode(token_ids)`). EOS is not included in `token_ids`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

from envs.transition import FINISHES

FINISH_REASONS = tuple(FINISHES)  # how a continuation ends = how a thought ends (envs.transition)


@dataclass(frozen=True)
class Sampling:
    """How to sample continuations.

    temperature: softmax temperature; 0 means greedy decoding (top_p is then ignored).
    top_p: nucleus sampling mass in (0, 1]; 1.0 disables it.
    max_new_tokens: most tokens generated per continuation (the "length" finish).
    seed: when set, the same call with the same inputs returns the same samples (on the same
        device and batch layout); None draws from the backend's running random state.
    """

    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"Sampling.temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"Sampling.top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"Sampling.max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    """One generated continuation of a prefix.

    token_ids: the generated ids (prefix not included; EOS not included).
    text: exactly `tokenizer.decode(token_ids)` (special tokens kept).
    finish_reason: "stop" (a stop string was completed by the last token), "eos", or "length".
    logprobs: per-token log-probabilities of `token_ids` under the sampling model at temperature 1,
        when the backend reports them (vLLM does); None otherwise.
    """

    token_ids: list[int]
    text: str
    finish_reason: str
    logprobs: list[float] | None = None

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"finish_reason must be one of {FINISH_REASONS}, got {self.finish_reason!r}")


class GenerationBackend(ABC):
    """Samples continuations of token-id (or text) prefixes from a causal language model.

    Attributes: `tokenizer` (the model's tokenizer) and `stats` (a dict of cumulative counters;
    every backend keeps at least "prefix_tokens", "generated_tokens" and "calls").
    """

    tokenizer: Any
    stats: dict

    @abstractmethod
    def generate(
        self,
        prefixes: Sequence[Sequence[int]] | Sequence[str],
        n: int,
        sampling: Sampling,
        stop: Sequence[str] = (),
    ) -> list[list[Completion]]:
        """Return [len(prefixes)][n] continuations (see the module docstring for where they end)."""

    @abstractmethod
    def sync_weights(self, model: Any) -> None:
        """Make later `generate` calls sample from `model`'s current weights."""

    def close(self) -> None:
        """Release engine resources (no-op for in-process backends)."""

    def __enter__(self) -> "GenerationBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_token_ids(tokenizer: Any, prefixes: Sequence[Sequence[int]] | Sequence[str]) -> list[list[int]]:
    """Prefixes as token-id lists: id sequences are copied unchanged; strings are tokenized once,
    without adding special tokens (a chat-rendered prompt already holds its own)."""
    out: list[list[int]] = []
    for i, p in enumerate(prefixes):
        if isinstance(p, str):
            ids = tokenizer(p, add_special_tokens=False)["input_ids"]
        else:
            ids = [int(t) for t in p]
        if not ids:
            raise ValueError(
                f"prefix {i} is empty: give at least one token (e.g. the rendered prompt or a BOS id)"
            )
        out.append(list(ids))
    return out


def stop_cut(
    tokenizer: Any, ids: Sequence[int], stop: Sequence[str], eos_ids: Sequence[int] | set[int]
) -> tuple[list[int], str]:
    """Cut generated `ids` where the continuation ends; returns (kept ids, finish_reason).

    Ends at whichever comes first: the first EOS id (dropped, "eos") or the token completing the
    first occurrence of any stop string in the decoded text (kept, "stop"); otherwise all ids are
    kept ("length"). The stop position is found by bisection on decoded prefixes, which is valid
    because decoding a longer id prefix only appends text.
    """
    eos = set(eos_ids)
    end = next((k for k, t in enumerate(ids) if t in eos), None)
    body = list(ids[:end]) if end is not None else list(ids)
    if stop and body:
        text = tokenizer.decode(body)
        if any(s in text for s in stop):
            lo, hi = 1, len(body)  # smallest k with a stop string inside decode(body[:k])
            while lo < hi:
                mid = (lo + hi) // 2
                if any(s in tokenizer.decode(body[:mid]) for s in stop):
                    hi = mid
                else:
                    lo = mid + 1
            return body[:lo], "stop"
    return body, ("eos" if end is not None else "length")

