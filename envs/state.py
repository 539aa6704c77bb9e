"""`ThoughtState`: a Thought-MDP state (which task, which thoughts so far, how the last one
ended, optionally their token ids); immutable and JSON-safe. The transition is `envs.transition`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_KEYS = ("suite", "task_id", "thoughts")
_OPTIONAL = ("finish", "token_ids")


class StateError(ValueError):
    """A state that cannot be entered: malformed, or from another suite or task list."""


@dataclass(frozen=True)
class ThoughtState:
    """Task plus thoughts so far. Hashable; `to_json`/`from_json` round-trip exactly.

    Attributes:
        suite: suite name of the task.
        task_id: the task within the suite.
        thoughts: thoughts so far (each but possibly the last ends with the stop pattern).
        finish: how the last thought ended ("stop", "eos", "length"; `envs.transition.FINISHES`),
            None when there are no thoughts or it is to be read from the text (closed: "stop",
            open: "eos").
        token_ids: the token ids of each thought (one tuple per thought), or None for a state
            known by its text only. The trainer's states carry them (token-exact resets).
    """

    suite: str
    task_id: str
    thoughts: tuple[str, ...] = ()
    finish: str | None = None
    token_ids: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.suite, str) or not isinstance(self.task_id, str):
            raise StateError(f"ThoughtState.suite and .task_id must be str, got {self.suite!r}, {self.task_id!r}")
        if not isinstance(self.thoughts, tuple) or not all(isinstance(t, str) for t in self.thoughts):
            raise StateError("ThoughtState.thoughts must be a tuple of str (use tuple(...) for a list)")
        if self.finish is not None and not isinstance(self.finish, str):
            raise StateError(f"ThoughtState.finish must be a str or None, got {self.finish!r}")
        if self.token_ids is not None:
            if not isinstance(self.token_ids, tuple) or not all(
                    isinstance(ids, tuple) and all(isinstance(t, int) for t in ids) for ids in self.token_ids):
                raise StateError("ThoughtState.token_ids must be a tuple of int tuples (one per thought)")
            if len(self.token_ids) != len(self.thoughts):
                raise StateError(f"ThoughtState has {len(self.thoughts)} thoughts but token ids for "
                                 f"{len(self.token_ids)}")

    def to_json(self) -> str:
        """JSON object text with keys suite, task_id, thoughts (and finish / token_ids when set)."""
        data: dict[str, Any] = {"suite": self.suite, "task_id": self.task_id, "thoughts": list(self.thoughts)}
        if self.finish is not None:
            data["finish"] = self.finish
        if self.token_ids is not None:
            data["token_ids"] = [list(ids) for ids in self.token_ids]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | dict[str, Any]) -> ThoughtState:
        """Parse `to_json` output (text or the decoded dict); clear errors for anything else."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as err:
                raise StateError(f"state JSON does not parse: {err}") from None
        if not isinstance(data, dict):
            raise StateError(f"a state is a JSON object with suite, task_id, thoughts; got {type(data).__name__}")
        missing = set(_KEYS) - set(data)
        extra = set(data) - set(_KEYS) - set(_OPTIONAL)
        if missing or extra:
            raise StateError(f"state keys must be suite, task_id, thoughts, optionally finish and token_ids "
                             f"(missing {sorted(missing)}, unexpected {sorted(extra)})")
        if not isinstance(data["thoughts"], list | tuple):
            raise StateError(f"state 'thoughts' must be a list of str, got {type(data['thoughts']).__name__}")
        ids = data.get("token_ids")
        if ids is not None:
            if not isinstance(ids, list | tuple) or not all(isinstance(x, list | tuple) for x in ids):
                raise StateError("state 'token_ids' must be a list of int lists (one per thought)")
            ids = tuple(tuple(x) for x in ids)
        return cls(data["suite"], data["task_id"], tuple(data["thoughts"]), data.get("finish"), ids)
