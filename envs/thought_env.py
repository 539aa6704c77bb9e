"""`ThoughtMDPEnv`: the Thought MDP as a Gymnasium env with exact re-entry of any state.

State = (task, thoughts so far), an immutable `ThoughtState`. Action = one thought: a string
that holds the stop pattern at most once, at its end, or an `envs.transition.Action` that also
says how it ended (`finish`: "stop", "eos", "length"). A plain string without the stop pattern
is the agent's last words (end of sequence): the episode terminates (so a thought missing its
stop pattern by mistake ends the episode as the final thought); ``Action(text, "length")``
is a thought cut by its token budget: truncated; ``Action("", "eos")`` ends the episode right
after a closed thought. Observation = the prompt text followed by the thoughts.

The transition and the end-of-episode rule are `envs.transition`'s (the trainer's rollouts call
the same functions); rewards are `envs.verify.Verifier`'s. The thought budget is counted from the
state, so `reset_to` a deep state truncates at the right step; `reset_to` is plain assignment
(of a state that can still take a step: a finished one is refused there, not at the next step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium

from envs import transition
from envs.oracle import first_error as oracle_first_error
from envs.prompts import render_prompt
from envs.rules import ANSWER_EXTRACTORS, ThoughtRules
from envs.spaces import AnyText, ThoughtSpace
from envs.state import StateError, ThoughtState
from envs.tasks import Task, load_suite_of_kind
from envs.verify import Outcome, Verifier

MAX_TEXT_CHARS = 10_000_000  # bound of the observation space (far above any real prompt)
MAX_THOUGHT_CHARS = 1_000_000  # bound of the action space
RESET_OPTIONS = ("task_id", "state")


class ThoughtMDPEnv(gymnasium.Env[str, str]):
    """Thought-MDP env over a list of tasks.

    Args:
        kind: "code" or "math"; every task must be of this kind.
        tasks: a suite name for `envs.tasks.load_suite`, or a sequence of `Task`.
        split: split to load when `tasks` is a suite name; None = the suite's default (its only
            split when it has one, e.g. "test" for humaneval; else "train").
        seed: suite seed (procedural suites) when `tasks` is a suite name.
        suite_kwargs: extra keywords for `load_suite` (e.g. ``{"n": 100}`` or ``{"path": ...}``).
        rules: `ThoughtRules` or a dict of its fields (stop pattern, thought budget).
        sandbox: for code rewards: backend name (started on the first code answer) or a shared
            `sandboxes` Sandbox instance.
        code_reward: "fraction" (share of test cases passed, default) or "all_or_nothing"
            (`envs.verify.CODE_REWARDS`).
        tokenizer: optional tokenizer whose chat template renders the prompt.
        fewshot: show the worked example in the prompt.
        render_mode: must be None (the observation is already the text; nothing to render).
    """

    metadata = {"render_modes": []}

    def __init__(self, kind: str = "code", tasks: str | Sequence[Task] = "basic", split: str | None = None,
                 seed: int = 0, suite_kwargs: dict[str, Any] | None = None,
                 rules: ThoughtRules | dict[str, Any] | None = None, sandbox: Any = "auto",
                 tokenizer: Any = None, fewshot: bool = True, render_mode: str | None = None,
                 code_reward: str = "fraction") -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not supported: the observation is the text")
        self.render_mode = render_mode
        self.rules = rules if isinstance(rules, ThoughtRules) else ThoughtRules(**(rules or {}))
        if kind not in ANSWER_EXTRACTORS:
            raise ValueError(f"unknown task kind {kind!r}; known: {sorted(ANSWER_EXTRACTORS)}")
        self.kind = kind
        if isinstance(tasks, str):  # a file of code and math rows gives its rows of this kind
            tasks = load_suite_of_kind(tasks, kind, split=split, seed=seed, **(suite_kwargs or {}))
        self.tasks: tuple[Task, ...] = tuple(tasks)
        if not self.tasks:
            raise ValueError("ThoughtMDPEnv needs at least one task")
        wrong = [t.task_id for t in self.tasks if t.kind != kind]
        if wrong:
            raise ValueError(f"a {kind!r} env got tasks of another kind: {wrong[:5]}; use the "
                             f"ThoughtMDP-{'Math' if kind == 'code' else 'Code'}-v0 env for them")
        self._by_key = {(t.suite, t.task_id): t for t in self.tasks}
        self.suites = tuple(sorted({t.suite for t in self.tasks}))
        self.tokenizer = tokenizer
        self.fewshot = fewshot
        self.verifier = Verifier(sandbox=sandbox, rules=self.rules, code_reward=code_reward)
        self._prompts: dict[tuple[str, str], str] = {}
        self.observation_space = AnyText(MAX_TEXT_CHARS)
        self.action_space = ThoughtSpace(self.rules, MAX_THOUGHT_CHARS)
        self._state: ThoughtState | None = None
        self._done = False

    # -- tasks and text ------------------------------------------------------------------
    @property
    def task(self) -> Task:
        """The task of the current episode."""
        self._require_state()
        return self._by_key[(self._state.suite, self._state.task_id)]

    def prompt(self, task: Task) -> str:
        """Prompt text of `task` (cached)."""
        key = (task.suite, task.task_id)
        if key not in self._prompts:
            self._prompts[key] = render_prompt(task, self.tokenizer, self.fewshot, self.rules)
        return self._prompts[key]

    def _observation(self) -> str:
        return self.observation_of(self._state)

    def observation_of(self, state: ThoughtState) -> str:
        """The observation text of any state: its task's prompt followed by its thoughts."""
        return self.prompt(self._find_task(state)) + self.rules.join(state.thoughts)

    def state_of(self, observation: str, task: Task | None = None) -> ThoughtState:
        """Inverse of `observation_of`: the state whose observation is `observation` (for `task`,
        default the current one). Exact, because the thoughts follow a fixed prompt; text alone
        carries no finish, so an open last thought reads as "eos" and an empty final EOS thought
        (`Action("", "eos")`) is not seen (its text is empty)."""
        task = self.task if task is None else task
        prompt = self.prompt(task)
        if not observation.startswith(prompt):
            raise StateError(f"the text does not start with the prompt of task {task.task_id!r}")
        return self.check_state(ThoughtState(task.suite, task.task_id, self.rules.split(observation[len(prompt):])))

    def _info(self) -> dict[str, Any]:
        return {"suite": self._state.suite, "task_id": self._state.task_id,
                "n_thoughts": len(self._state.thoughts)}

    def _require_state(self) -> None:
        if self._state is None:
            raise RuntimeError("call reset() (or reset_to(state)) before using the env")

    # -- state ---------------------------------------------------------------------------
    def get_state(self) -> ThoughtState:
        """The current state (immutable, hashable, `to_json()`-serializable)."""
        self._require_state()
        return self._state

    def _find_task(self, state: ThoughtState) -> Task:
        task = self._by_key.get((state.suite, state.task_id))
        if task is not None:
            return task
        if state.suite not in self.suites:
            raise StateError(f"state is from suite {state.suite!r}, but this env holds suite(s) "
                             f"{list(self.suites)}; make an env for that suite to re-enter it")
        raise StateError(f"task {state.task_id!r} is not among this env's {len(self.tasks)} tasks of "
                         f"suite {state.suite!r} (another split, seed or size?)")

    def check_state(self, state: ThoughtState | dict | str) -> ThoughtState:
        """Validate a state for this env (parsing JSON text or dicts); raise `StateError` if bad."""
        if not isinstance(state, ThoughtState):
            if not isinstance(state, str | dict):
                raise StateError(f"a state is a ThoughtState (or its JSON / dict), got {type(state).__name__}")
            state = ThoughtState.from_json(state)
        self._find_task(state)
        return transition.check_state(self.rules, state)

    def reset_to(self, state: ThoughtState | dict | str) -> tuple[str, dict[str, Any]]:
        """Re-enter `state` (a ThoughtState, its JSON text or dict). Returns (obs, info).
        A finished state (terminated or truncated: no step could follow) is refused with
        `StateError`; re-enter one of its prefixes (`envs.transition.reset_to_prefix`)."""
        state = self.check_state(state)
        status = transition.state_status(self.rules, self.kind, state)
        if status != "continue":
            raise StateError(f"the state is {status} after {len(state.thoughts)} thought(s): its episode is "
                             "over and no step could follow; re-enter a prefix of it instead "
                             "(envs.transition.reset_to_prefix(state, h))")
        self._state, self._done = state, False
        return self._observation(), self._info()

    def first_error(self, state: ThoughtState | None = None) -> int | None:
        """Oracle: index of the first wrong thought of `state` (default: current), or None.
        Raises ValueError for tasks without step-level truth."""
        state = self.get_state() if state is None else self.check_state(state)
        return oracle_first_error(self._find_task(state), state.thoughts, self.rules)

    # -- gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode: a random task, or ``options={"task_id": id}`` or
        ``options={"state": state}`` (same as `reset_to`)."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; known: {list(RESET_OPTIONS)}")
        if "state" in options:
            if "task_id" in options:
                raise ValueError("give reset option 'state' or 'task_id', not both")
            return self.reset_to(options["state"])
        if "task_id" in options:
            matches = [t for t in self.tasks if t.task_id == options["task_id"]]
            if not matches:
                raise ValueError(f"no task {options['task_id']!r} in this env (e.g. {self.tasks[0].task_id!r})")
            task = matches[0]
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        return self.reset_to(transition.initial(task.suite, task.task_id))

    def step(self, action: str | transition.Action) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Append one thought (`envs.transition.step`); score the episode when it ends.

        A string without the stop pattern is the final thought (the model's end of sequence): the
        episode terminates and is scored, as in the trainer's rollouts. To continue after a
        thought, end it with `rules.stop` (e.g. "</thought>"). An action longer than
        `action_space.max_length` characters is refused with ValueError.
        `info["outcome"]` (on the step that ends the episode) holds the reward, correctness,
        status and the verifier's `info` (`envs.verify`: for code, case counts and the first
        failing case with its message: expected/got, traceback tail); it is for people and for
        agents that read it on purpose, never part of an observation.
        """
        self._require_state()
        if self._done:
            raise RuntimeError("the episode is over (terminated or truncated); call reset() or reset_to()")
        text = action.text if isinstance(action, transition.Action) else action
        if isinstance(text, str) and len(text) > self.action_space.max_length:
            raise ValueError(f"the action has {len(text)} characters, more than action_space.max_length="
                             f"{self.action_space.max_length}; a thought is one step of reasoning: split it")
        self._state, status = transition.step(self.rules, self.kind, self._state, action)
        info = self._info()
        reward = 0.0
        if status != "continue":
            self._done = True
            outcome = self.verifier.score(self.task, self._state.thoughts)
            reward = outcome.reward
            info["outcome"] = _outcome_dict(outcome)
        return self._observation(), reward, status == "terminated", status == "truncated", info

    def close(self) -> None:
        self.verifier.close()


def _outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return {"reward": outcome.reward, "correct": outcome.correct, "status": outcome.status,
            "info": dict(outcome.info)}
