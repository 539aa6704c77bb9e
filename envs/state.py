"""`ThoughtState`: a Thought-MDP state (which task, which thoughts so far); immutable and JSON-safe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class StateError(ValueError):
    """A state that cannot be entered: malformed, or from another suite or task list."""


@dataclass(frozen=True)
class ThoughtState:
    """Task plus thoughts so far. Hashable; `to_json`/`from_json` round-trip exactly.

    Attributes:
        suite: suite name of the task.
        task_id: the task within the suite.
        thoughts: thoughts so far (each but possibly the last ends with the stop pattern).
    """

    suite: str
    task_id: str
    thoughts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.suite, str) or not isinstance(self.task_id, str):
            raise StateError(f"ThoughtState.suite and .task_id must be str, got {self.suite!r}, {self.task_id!r}")
        if not isinstance(self.thoughts, tuple) or not all(isinstance(t, str) for t in self.thoughts):
            raise StateError("ThoughtState.thoughts must be a tuple of str (use tuple(...) for a list)")

    def to_json(self) -> str:
        """JSON object text with keys suite, task_id, thoughts."""
        return json.dumps({"suite": self.suite, "task_id": self.task_id, "thoughts": list(self.thoughts)},
                          ensure_ascii=False)

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
        missing = {"suite", "task_id", "thoughts"} - set(data)
        extra = set(data) - {"suite", "task_id", "thoughts"}
        if missing or extra:
            raise StateError(f"state keys must be suite, task_id, thoughts (missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)})")
        if not isinstance(data["thoughts"], list | tuple):
            raise StateError(f"state 'thoughts' must be a list of str, got {type(data['thoughts']).__name__}")
        return cls(data["suite"], data["task_id"], tuple(data["thoughts"]))
