"""Thought-by-thought rollouts through a generation backend, token-exact.

Owns `Rollout` (one episode: prompt ids, the token ids of each thought, its verdict) and
`Roller`, which advances many rollouts at once: every round asks the backend for the next
thought of every unfinished rollout in ONE `generate` call (batched across prompts and groups),
stopping at the Thought-MDP stop pattern (`envs.rules.ThoughtRules.stop`).

Token exactness: a thought is stored as the token ids the backend returned; a rollout's prefix
is always the concatenation of stored ids (prompt ids + thought ids), never re-tokenized text.
A reset rollout starts from the stored ids of the seed's first h*-1 thoughts.

Thought texts: a backend may return a stop-completing token that carries a few characters past
the stop pattern (e.g. ">\\n"). Such trailing characters stay in the token ids, but for the
Thought-MDP rules and the verifier they belong to the *next* thought's text (`thought_texts`),
so every thought but the last ends exactly with the stop pattern, as `ThoughtRules` requires.
Characters after the stop pattern in the very last thought are dropped from its text.

Transition and episode end: `envs.transition`, the same pure functions the Gymnasium env calls
(`Rollout.advance` steps the rollout's token-carrying `ThoughtState`, `Rollout.reset_state` is
`reset_to_prefix`). The final answer or end-of-sequence terminates (an EOS right after a closed
thought is an empty final thought); an open thought cut by the per-thought token budget, or the
thought budget, truncates. Every logged rollout replays in the env (`Rollout.to_json`: task_id,
thoughts, finish of the last one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from codereset.generation.base import Completion, EpisodeEnd, Sampling, stop_cut
from codereset.rollouts.infra import score_with_retry
from codereset.run.schema import ROLLOUT
from envs import transition
from envs.rules import DEFAULT_STOP, ThoughtRules
from envs.state import ThoughtState


def thought_texts(texts: Sequence[str], stop: str) -> tuple[str, ...]:
    """Per-segment decoded texts -> thought texts that obey the rules (see module docstring)."""
    out: list[str] = []
    carry = ""
    for text in texts:
        text = carry + text
        carry = ""
        end = text.find(stop)
        if end >= 0 and end + len(stop) < len(text):
            carry = text[end + len(stop):]
            text = text[: end + len(stop)]
        out.append(text)
    return tuple(out)


@dataclass
class Rollout:
    """One episode of one task.

    task: the `envs` Task.
    prompt_ids: token ids of the rendered prompt.
    segments: token ids of each thought, in order (a reset's prefix thoughts first).
    texts: `tokenizer.decode` of each segment, exactly as the backend returned it.
    prefix_len: how many leading segments came from a reset state (not generated, not trained).
    kind: "base", "seed_search", "reset", "fallback" or "eval" (what it was drawn for).
    stop: the stop pattern (to derive thought texts).
    finish: finish reason of the last generated segment ("stop", "eos", "length"), or None.
    status: "continue", "terminated" or "truncated" (`envs.transition.status`).
    eos_id: id appended to the trained sequence when the episode ended with EOS (the backend drops
        EOS from token_ids, but the policy did sample it); None never appends.
    outcome: the verifier's `Outcome`, once scored.
    token_advantages: per-token advantages (one per generated token, EOS included) set by an agent
        with per-token credit (VinePPO); None = the group's one advantage per rollout.
    seg_logprobs: per segment, the sampler's log-prob of each of its token ids
        (`Completion.logprobs`: log_softmax(logits / T) before top-p), None for a segment whose
        backend reported none; a reset's prefix segments carry the seed's.
    eos_logprob: the sampler's log-prob of the EOS that ended the episode (when it did), else None.
    aborted: None, or the tokens this rollout had generated when its draw was aborted (a surplus
        seed-search draw cancelled by `Roller.run`'s `abort`): it never ends, is never scored or
        trained, and those tokens are counted apart (`PromptBuffer.aborted_tokens`).
    """

    task: Any
    prompt_ids: list[int]
    segments: list[list[int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    prefix_len: int = 0
    kind: str = "base"
    stop: str = DEFAULT_STOP
    finish: str | None = None
    status: str = "continue"
    eos_id: int | None = None
    outcome: Any = None
    token_advantages: list[float] | None = None
    seg_logprobs: list[list[float] | None] = field(default_factory=list)
    eos_logprob: float | None = None
    aborted: int | None = None

    @property
    def thoughts(self) -> tuple[str, ...]:
        """Thought texts per the Thought-MDP rules (one per segment)."""
        return thought_texts(self.texts, self.stop)

    @property
    def n_thoughts(self) -> int:
        return len(self.segments)

    @property
    def done(self) -> bool:
        return self.status != "continue"

    @property
    def ended_with_eos(self) -> bool:
        return self.finish == "eos" and self.eos_id is not None

    def prefix_ids(self) -> list[int]:
        """Prompt ids followed by every stored thought's ids (what the next thought continues)."""
        ids = list(self.prompt_ids)
        for seg in self.segments:
            ids.extend(seg)
        return ids

    def sequence(self) -> list[int]:
        """The full trained sequence: prompt, thoughts and the sampled EOS (if any)."""
        ids = self.prefix_ids()
        if self.ended_with_eos:
            ids.append(int(self.eos_id))
        return ids

    @property
    def prefix_tokens(self) -> int:
        """Tokens of the reset prefix thoughts (reused, not generated)."""
        return sum(len(s) for s in self.segments[: self.prefix_len])

    @property
    def trained_from(self) -> int:
        """Index in `sequence()` of the first generated (trained) token."""
        return len(self.prompt_ids) + self.prefix_tokens

    @property
    def generated_tokens(self) -> int:
        """Tokens generated for this rollout (its suffix, EOS included)."""
        return len(self.sequence()) - self.trained_from

    @property
    def reward(self) -> float:
        self._need_outcome()
        return float(self.outcome.reward)

    @property
    def correct(self) -> bool:
        self._need_outcome()
        return bool(self.outcome.correct)

    def _need_outcome(self) -> None:
        if self.outcome is None:
            raise RuntimeError("rollout has not been scored yet: call Roller.score first")

    def state(self) -> ThoughtState:
        """The rollout's Thought-MDP state: its thoughts, the finish of the last, their token ids."""
        return ThoughtState(self.task.suite, self.task.task_id, self.thoughts,
                            finish=self.finish if self.segments else None,
                            token_ids=tuple(tuple(s) for s in self.segments))

    def advance(self, completion: Any, rules: ThoughtRules) -> None:
        """Append one generated thought (a `Completion`) via `envs.transition.step`: its ids and
        text are stored, `finish` and `status` become the transition's."""
        text = thought_texts([*self.texts, completion.text], self.stop)[-1]
        action = transition.Action(text, completion.finish_reason, tuple(completion.token_ids))
        state, self.status = transition.step(rules, self.task.kind, self.state(), action)
        self.segments.append(list(completion.token_ids))
        self.texts.append(completion.text)
        self.finish = state.finish
        lps = completion.logprobs
        self.seg_logprobs.append(None if lps is None else list(lps))
        self.eos_logprob = completion.eos_logprob if completion.finish_reason == "eos" else None

    def reset_state(self, h: int, kind: str = "reset") -> "Rollout":
        """A new unfinished rollout at state x* = (prompt, thoughts 1..h-1), token-exact
        (`envs.transition.reset_to_prefix`).

        h is 1-based (method.md's h*): h=1 is the empty prefix; h ranges over 1..n_thoughts.
        """
        prefix = transition.reset_to_prefix(self.state(), h)
        keep = len(prefix.thoughts)
        return Rollout(task=self.task, prompt_ids=list(self.prompt_ids),
                       segments=[list(s) for s in prefix.token_ids], texts=list(self.texts[:keep]),
                       seg_logprobs=[None if lp is None else list(lp) for lp in self.seg_logprobs[:keep]],
                       prefix_len=keep, kind=kind, stop=self.stop, finish=prefix.finish,
                       eos_id=self.eos_id)

    def to_json(self) -> dict:
        """JSON-safe summary (for samples.jsonl)."""
        out = {"task_id": self.task.task_id, "kind": self.kind, "thoughts": list(self.thoughts),
               "prefix_len": self.prefix_len, "status": self.status, "finish": self.finish,
               "generated_tokens": self.generated_tokens}
        if self.outcome is not None:
            out.update(reward=self.reward, correct=self.correct, verdict=self.outcome.status)
        return dict(ROLLOUT.check(out, {"scored"} if self.outcome is not None else ()))


# How thoughts are drawn. Both give every thought the same distribution (the same model samples
# the same tokens given the same token-exact prefix); they differ in cost only.
MODES: dict[str, str] = {
    "per_thought": "one generate call per thought, ended by the stop pattern (the method as "
                   "written; cheap with a prefix-caching backend such as vLLM)",
    "continuous": "one generate call per rollout without a stop string, cut into thoughts at the "
                  "stop pattern afterwards with the same per-thought token budget; avoids "
                  "re-encoding the prefix for every thought (much faster with HF generate on CPU); "
                  "the backend is told when each episode is over (`EpisodeEnd`), so a rollout stops "
                  "decoding at its end instead of at the call's token budget",
}


# How a step's generation is cut into backend calls. Both draw the same distribution.
BATCHING: dict[str, str] = {
    "step": "one call for all start states of a `Roller.run` (any counts, per-row token budgets), "
            "rollouts reported as they end so their scoring overlaps generation; the buffer draws "
            "the whole seed search of a step in one speculative round",
    "per_round": "the old cut, kept as the reference for benchmarks/step_throughput.py: one call per "
                 "distinct (count, budget), seed search in rounds of `buffer.search_batch` draws, "
                 "scoring after each call",
    "graph": "each call as in 'step', but the buffer runs every prompt's chain (first draws, seed "
             "search, localization, reset group, MC values) as its own task, all at once "
             "(`codereset.rollouts.graph`); needs a backend that serves concurrent calls "
             "(backend=vllm backend.vllm.engine=async)",
}
# Batchings whose calls run in flight together, and the backends that can serve them.
CONCURRENT_BATCHING = frozenset({"graph"})


def split_thoughts(tokenizer: Any, completion: Any, rules: ThoughtRules) -> list[Completion]:
    """Cut one long continuation into per-thought completions, exactly as per-thought generation
    would have ended them: at the token completing the stop pattern ("stop"), after
    `max_thought_tokens` without one ("length"), or at the end of the continuation (its own
    finish reason; an EOS right after a stop pattern gives a final empty "eos" thought)."""
    ids = list(completion.token_ids)
    lps = None if completion.logprobs is None else list(completion.logprobs)
    out: list[Completion] = []
    while ids:
        window = ids[: rules.max_thought_tokens]
        kept, reason = stop_cut(tokenizer, window, [rules.stop], ())
        if reason != "stop":
            if len(ids) > rules.max_thought_tokens:
                kept, reason = window, "length"
            else:
                kept, reason = ids, completion.finish_reason
        out.append(Completion(kept, tokenizer.decode(kept), reason,
                              None if lps is None else lps[: len(kept)]))
        ids = ids[len(kept):]
        lps = None if lps is None else lps[len(kept):]
    if completion.finish_reason == "eos" and (not out or out[-1].finish_reason == "stop"):
        out.append(Completion([], "", "eos", None if lps is None else []))
    if out and out[-1].finish_reason == "eos":
        out[-1].eos_logprob = completion.eos_logprob
    return out


def encode_prompt(task: Any, tokenizer: Any, fewshot: bool, rules: ThoughtRules) -> list[int]:
    """Token ids of the task's prompt (`envs.prompts.render_prompt`, chat-template aware)."""
    from envs.prompts import render_prompt

    from codereset.rollouts.localize import encode_chat

    return encode_chat(tokenizer, render_prompt(task, tokenizer=tokenizer, fewshot=fewshot, rules=rules))


class Roller:
    """Generates and scores rollouts with one backend, one set of rules and one sampling setting.

    backend: a `GenerationBackend`; rules: `ThoughtRules`; temperature/top_p: thought sampling
    (temperature 0 = greedy); fewshot: prompts include the worked example; mode: see `MODES`.
    """

    def __init__(self, backend: Any, rules: ThoughtRules, temperature: float = 0.7,
                 top_p: float = 0.95, fewshot: bool = True, mode: str = "per_thought",
                 batching: str = "step") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown rollout mode {mode!r}; known: {sorted(MODES)}")
        if batching not in BATCHING:
            raise ValueError(f"unknown sampling.batching {batching!r}; known: {sorted(BATCHING)}")
        if batching in CONCURRENT_BATCHING and not getattr(backend, "concurrent_calls", False):
            raise ValueError(f"sampling.batching={batching} runs every prompt's rollouts as its own task, "
                             f"so several generate calls are in flight at once, which the "
                             f"{type(backend).__name__} backend cannot serve; use backend=vllm "
                             "backend.vllm.engine=async, or sampling.batching=step")
        self.mode = mode
        self.batching = batching
        self.backend = backend
        self.rules = rules
        self.sampling = Sampling(temperature=temperature, top_p=top_p,
                                 max_new_tokens=rules.max_thought_tokens)
        self.fewshot = fewshot
        self.eos_id = getattr(backend.tokenizer, "eos_token_id", None)
        self._prompts: dict[tuple[str, str], list[int]] = {}

    def with_sampling(self, temperature: float, top_p: float = 1.0) -> "Roller":
        """A roller sharing backend, rules and prompt cache, sampling differently."""
        other = Roller.__new__(Roller)
        other.__dict__.update(self.__dict__)
        other.sampling = replace(self.sampling, temperature=temperature, top_p=top_p)
        return other

    def seeded(self, seed: int) -> "Roller":
        """A roller sharing everything with this one whose generate calls are seeded with `seed`."""
        other = Roller.__new__(Roller)
        other.__dict__.update(self.__dict__)
        other.sampling = replace(self.sampling, seed=int(seed))
        return other

    def prompt_ids(self, task: Any) -> list[int]:
        """The task's prompt ids (rendered and tokenized once per task)."""
        key = (task.suite, task.task_id)
        if key not in self._prompts:
            self._prompts[key] = encode_prompt(task, self.backend.tokenizer, self.fewshot, self.rules)
        return self._prompts[key]

    def fresh(self, task: Any, kind: str = "base") -> Rollout:
        """An unfinished rollout at the task's initial state (prompt only)."""
        return Rollout(task=task, prompt_ids=list(self.prompt_ids(task)), kind=kind,
                       stop=self.rules.stop, eos_id=self.eos_id)

    def run(self, starts: Sequence[Rollout], n: int | Sequence[int],
            on_done: Callable[[Rollout], None] | None = None,
            abort: Callable[[int, int, list[Rollout]], bool] | None = None) -> list[list[Rollout]]:
        """For each start state, `n` rollouts (or `n[i]` for start i) continued until they end.

        Returns [len(starts)][n_i]; start states are not modified. `on_done(rollout)` is called
        for each rollout as soon as it has ended (a streaming backend reports rows while others
        still decode, so the caller can score it meanwhile). How the thoughts are drawn is `mode`;
        how the calls are cut is `batching` (see `BATCHING`).

        `abort(i, j, rollouts of start i)`, where the backend can cancel rows while they run
        (`supports_abort`: the async vLLM engine) and batching is "step" or "graph": rollout j of start i is
        cancelled once it returns True; it comes back unfinished with `aborted` set (its tokens
        so far) and is never passed to `on_done`. Other backends ignore it (every row finishes).
        """
        counts = [n] * len(starts) if isinstance(n, int) else [int(k) for k in n]
        if len(counts) != len(starts) or any(k < 0 for k in counts):
            raise ValueError(f"need one non-negative count per start, got {counts} for {len(starts)} starts")
        for s in starts:
            if s.done or len(s.segments) != s.prefix_len:
                raise ValueError("a start state must be unfinished and hold only prefix thoughts")
        groups = [[self._clone(s) for _ in range(k)] for s, k in zip(starts, counts)]
        live = [i for i, k in enumerate(counts) if k]
        continuous = self.mode == "continuous"
        stop = () if continuous else (self.rules.stop,)
        budgets = [self._budget(starts[i]) if continuous else self.rules.max_thought_tokens for i in live]

        def first(p: int, j: int, completion: Completion) -> None:
            rollout = groups[live[p]][j]
            pieces = split_thoughts(self.backend.tokenizer, completion, self.rules) if continuous else [completion]
            for piece in pieces:
                self._append(rollout, piece)
                if rollout.done:
                    break
            if rollout.done and on_done is not None:
                on_done(rollout)

        if self.batching != "per_round":  # one call for every start
            watch = EpisodeEnd(self.rules.stop, self.rules.max_thought_tokens,
                               lambda p, ids: self._over(starts[live[p]], ids)) if continuous else None
            extra = {}
            if abort is not None and getattr(self.backend, "supports_abort", False):
                extra["abort"] = lambda p, j: abort(live[p], j, groups[live[p]])
            out = self.backend.generate_streaming([starts[i].prefix_ids() for i in live], [counts[i] for i in live],
                                                  self.sampling, stop, first, max_new=budgets, episode_end=watch,
                                                  **extra)
            for p, row in enumerate(out):
                for j, got in enumerate(row):
                    if not isinstance(got, Completion):  # cancelled (agent_loop.Aborted): its tokens so far
                        groups[live[p]][j].aborted = len(got.token_ids)
        else:  # the old cut: one call per distinct (count, budget)
            keys = [(counts[i], b) for i, b in zip(live, budgets)]
            for key in sorted(set(keys)):
                sub = [p for p, k in enumerate(keys) if k == key]
                self.backend.generate_streaming(
                    [starts[live[p]].prefix_ids() for p in sub], key[0], replace(self.sampling, max_new_tokens=key[1]),
                    stop, lambda q, j, c, sub=sub: first(sub[q], j, c))
        active = [r for g in groups for r in g if not r.done and r.aborted is None]
        while active:  # one thought per unfinished rollout per call
            def more(p: int, j: int, completion: Completion, active=active) -> None:
                self._append(active[p], completion)
                if active[p].done and on_done is not None:
                    on_done(active[p])

            self.backend.generate_streaming([r.prefix_ids() for r in active], 1, self.sampling,
                                            [self.rules.stop], more)
            active = [r for r in active if not r.done]
        return groups

    def _over(self, start: Rollout, ids: list[int]) -> bool:
        """Continuous mode: True when the episode of `start` continued by the generated `ids` has
        ended within them (their thoughts as `split_thoughts` cuts them, the transition's status),
        so the backend may stop that row: every further token would be discarded."""
        probe = self._clone(start)
        tokenizer = self.backend.tokenizer
        for piece in split_thoughts(tokenizer, Completion(ids, tokenizer.decode(ids), "length"), self.rules):
            self._append(probe, piece)
            if probe.done:
                return True
        return False

    def _budget(self, start: Rollout) -> int:
        """Continuous mode: the tokens the remaining thoughts of `start` may use together. The
        continuation is cut into thoughts afterwards (`split_thoughts`) and appended until the
        episode ends; the rest is discarded. A rollout still unfinished afterwards (one whose
        call ran out of tokens exactly at a thought boundary) continues per thought."""
        return (self.rules.max_thoughts - start.prefix_len) * self.rules.max_thought_tokens

    def score(self, verifier: Any, rollouts: Sequence[Rollout]) -> None:
        """Attach the verifier's outcome to every rollout (one batched `score_many` call; rollouts
        whose verification hit a sandbox error are re-verified once, `codereset.rollouts.infra`)."""
        if not rollouts:
            return
        outcomes = score_with_retry(verifier, [(r.task, r.thoughts) for r in rollouts])
        for rollout, outcome in zip(rollouts, outcomes, strict=True):
            rollout.outcome = outcome

    @staticmethod
    def _clone(start: Rollout) -> Rollout:
        return replace(start, segments=[list(s) for s in start.segments], texts=list(start.texts),
                       seg_logprobs=[None if lp is None else list(lp) for lp in start.seg_logprobs])

    def _append(self, rollout: Rollout, completion: Any) -> None:
        rollout.advance(completion, self.rules)
