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
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

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
    logprobs: per-token log-probabilities of `token_ids` under the distribution that was sampled,
        *before* top-p truncation: log_softmax(logits / temperature) over the full vocabulary at
        the sampled token (temperature 1 for greedy decoding, T = 0). Every backend in
        `codereset.generation` reports them (HF: from its own fp32 logits; vLLM: its
        "processed_logprobs" mode, see vllm.py); None from a backend that cannot.
    eos_logprob: the same log-probability of the EOS token that ended the continuation
        (finish_reason "eos"; EOS is not in token_ids but the policy sampled it), else None.
    """

    token_ids: list[int]
    text: str
    finish_reason: str
    logprobs: list[float] | None = None
    eos_logprob: float | None = None

    def copy(self) -> "Completion":
        """An independent copy (greedy decoding reports one row as its n copies)."""
        return Completion(list(self.token_ids), self.text, self.finish_reason,
                          None if self.logprobs is None else list(self.logprobs), self.eos_logprob)

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"finish_reason must be one of {FINISH_REASONS}, got {self.finish_reason!r}")


@dataclass(frozen=True)
class EpisodeEnd:
    """Lets a backend stop a long continuation as soon as the episode it extends is over, instead
    of decoding tokens the caller would discard (continuous rollouts, `codereset.rollouts.rollout`).

    marker: the text at which the episode may end (the thought stop pattern).
    every: the most tokens after a marker (or the start) without asking (the per-thought token
        budget: an open thought that reaches it ends the episode).
    over: over(prefix index, generated ids so far) -> True when the episode has ended within
        those ids; it must be exact, because the row is then finished ("length") with those ids.
    A backend that decodes rows one step at a time (HF) asks `over` at the token completing a
    marker and after `every` tokens without one; a backend that cannot (vLLM, `model.generate`)
    ignores it, which only costs the discarded tokens.
    """

    marker: str
    every: int
    over: Callable[[int, list[int]], bool]

    def __post_init__(self) -> None:
        if not self.marker or self.every < 1:
            raise ValueError(f"EpisodeEnd needs a non-empty marker and every >= 1, got {self.marker!r}, {self.every}")


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

    def generate_streaming(
        self,
        prefixes: Sequence[Sequence[int]] | Sequence[str],
        n: int | Sequence[int],
        sampling: Sampling,
        stop: Sequence[str] = (),
        on_done: Callable[[int, int, Completion], None] | None = None,
        max_new: Sequence[int] | None = None,
        episode_end: EpisodeEnd | None = None,
    ) -> list[list[Completion]]:
        """`generate` for a whole step's worth of rows in one call: `n` continuations per prefix
        (or `n[i]` for prefix i), each at most `max_new[i]` tokens when given (else
        `sampling.max_new_tokens`), and on_done(prefix index, sample index, completion) for every
        continuation once it is final. `episode_end` (optional, see `EpisodeEnd`) may end a row
        early, with finish "length", once the caller says its episode is over; this default
        ignores it. A backend that decodes rows independently (HF) calls it as
        each row ends, while the others still decode, so the caller can overlap work (scoring)
        with generation; this default makes one `generate` call per distinct (n, budget) and calls
        on_done when each returns."""
        counts = [n] * len(prefixes) if isinstance(n, int) else [int(k) for k in n]
        budgets = [sampling.max_new_tokens] * len(prefixes) if max_new is None else [int(b) for b in max_new]
        if len(counts) != len(prefixes) or len(budgets) != len(prefixes):
            raise ValueError(f"need one count and one budget per prefix: {len(prefixes)} prefixes, "
                             f"{len(counts)} counts, {len(budgets)} budgets")
        out: list[list[Completion]] = [[] for _ in prefixes]
        for key in sorted(set(zip(counts, budgets))):
            idx = [i for i, k in enumerate(zip(counts, budgets)) if k == key]
            if key[0] == 0:
                continue
            got = self.generate([prefixes[i] for i in idx], key[0], replace(sampling, max_new_tokens=key[1]), stop)
            for i, group in zip(idx, got, strict=True):
                out[i] = group
                if on_done is not None:
                    for j, completion in enumerate(group):
                        on_done(i, j, completion)
        return out

    @abstractmethod
    def sync_weights(self, model: Any) -> None:
        """Make later `generate` calls sample from `model`'s current weights."""

    def offload(self) -> None:
        """Free the device memory the backend holds until the next `sync_weights` (which brings
        it back): the trainer calls it before the policy update. No-op unless the backend can
        (vLLM's async engine with `sleep`)."""

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

