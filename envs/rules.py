"""The Thought-MDP rules of the text: thought boundaries, the budgets and answer extraction.

The Gymnasium env (`envs.thought_env`) and the trainer (`codereset`) both use `ThoughtRules`, so
the two cannot drift. A *thought* is a piece of generated text that ends with the stop pattern
(`DEFAULT_STOP` = ``</thought>`` unless configured, kept in the text). Generation stops at the
pattern, so every thought but possibly the last ends with it; the last one may be *open* (no stop
pattern) when generation ended another way (end-of-sequence or a token budget). How a thought
moves a state and when the episode ends is `envs.transition` (built on these rules).

Final answers:
  * math: the content of the last ``\\boxed{...}`` (balanced braces);
  * code: the last complete fenced block tagged as Python (```` ```python ````, ```` ```py ````,
    ```` ```python3 ````, any case). Blocks tagged with another language or untagged are not
    answers, so an example input shown in a fence never ends an episode.

What this module does not own: prompts (`envs.prompts`), rewards (`envs.verify`), token budgets
(`max_thought_tokens` is carried here for the trainer's generation; the env has no tokenizer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["code", "math"]
Status = Literal["continue", "terminated", "truncated"]

DEFAULT_STOP = "</thought>"  # the stop pattern unless configured (suites write references with it)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = frozenset({"python", "py", "python3"})
_BOXED = re.compile(r"\\boxed\s*\{")


def _last_python_block(text: str) -> str | None:
    """Code of the last complete ```python fenced block in `text`, or None."""
    code = None
    for match in _FENCE.finditer(text):
        if match.group(1).lower() in _PYTHON_TAGS:
            code = match.group(2)
    return code


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces in `text`, or None."""
    answer = None
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for pos in range(start, len(text)):
            if text[pos] == "{":
                depth += 1
            elif text[pos] == "}":
                depth -= 1
                if depth == 0:
                    answer = text[start:pos].strip()
                    break
    return answer


# Answer extractor per task kind (registry: add a kind here, nowhere else).
ANSWER_EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "code": _last_python_block,
    "math": _last_boxed,
}


def _extractor(kind: str) -> Callable[[str], str | None]:
    try:
        return ANSWER_EXTRACTORS[kind]
    except KeyError:
        raise ValueError(
            f"unknown task kind {kind!r}; known kinds: {sorted(ANSWER_EXTRACTORS)}"
        ) from None


@dataclass(frozen=True)
class ThoughtRules:
    """How text is cut into thoughts and when an episode ends.

    Attributes:
        stop: the stop pattern that ends every thought (kept in the thought's text).
        max_thoughts: thought budget per episode; reaching it without a final answer truncates
            (`envs.transition.status`).
        max_thought_tokens: token budget of one thought, for generation backends (the env itself
            counts thoughts, not tokens).
    """

    stop: str = DEFAULT_STOP
    max_thoughts: int = 20
    max_thought_tokens: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.stop, str) or not self.stop:
            raise ValueError(f"ThoughtRules.stop must be a non-empty string, got {self.stop!r}")
        if self.max_thoughts < 1:
            raise ValueError(f"ThoughtRules.max_thoughts must be >= 1, got {self.max_thoughts}")
        if self.max_thought_tokens < 1:
            raise ValueError(
                f"ThoughtRules.max_thought_tokens must be >= 1, got {self.max_thought_tokens}"
            )

    def split(self, text: str) -> tuple[str, ...]:
        """Cut `text` into thoughts; each keeps its stop pattern, only the last may lack it.

        Exact: ``"".join(split(t)) == t``; and ``split("".join(th)) == th`` for any `th` that
        split produced. The empty text has no thoughts.
        """
        pieces = text.split(self.stop)
        thoughts = [piece + self.stop for piece in pieces[:-1]]
        if pieces[-1]:
            thoughts.append(pieces[-1])
        return tuple(thoughts)

    def adopt(self, thoughts: Sequence[str]) -> tuple[str, ...]:
        """Thoughts of task data (written with `DEFAULT_STOP`, e.g. `Task.reference`) under these
        rules' stop pattern: a trailing default stop pattern becomes `stop`."""
        if self.stop == DEFAULT_STOP:
            return tuple(thoughts)
        return tuple(t[: -len(DEFAULT_STOP)] + self.stop if t.endswith(DEFAULT_STOP) else t
                     for t in thoughts)

    def join(self, thoughts: Sequence[str]) -> str:
        """The text of a sequence of thoughts (inverse of `split`)."""
        return "".join(thoughts)

    def is_closed(self, thought: str) -> bool:
        """True when the thought ends with the stop pattern (another thought may follow)."""
        return thought.endswith(self.stop)

    def check_thought(self, thought: str) -> None:
        """Raise ValueError unless `thought` is exactly one thought.

        One thought is a non-empty string that contains the stop pattern at most once, at its
        end. Several thoughts in one string would be re-split differently, breaking exactness.
        """
        if not isinstance(thought, str):
            raise ValueError(f"a thought must be a str, got {type(thought).__name__}")
        if not thought:
            raise ValueError("a thought must not be empty")
        inner = thought[: -len(self.stop)] if thought.endswith(self.stop) else thought
        if self.stop in inner:
            raise ValueError(
                f"a thought may contain the stop pattern {self.stop!r} only at its end; this text "
                f"holds {len(self.split(thought))} thoughts: split it with ThoughtRules.split "
                "and pass them one at a time"
            )

    def extract_answer(self, text: str, kind: str) -> str | None:
        """The final answer in `text`: math, the last ``\\boxed{}`` content; code, the last
        ```python block's code. None when there is none."""
        return _extractor(kind)(text)

    def is_final(self, thought: str, kind: str) -> bool:
        """True when the final answer appears in this thought."""
        return _extractor(kind)(thought) is not None
