"""The per-prompt rollout buffer of one training step (method.md, "The rollout buffer").

For each prompt, with split "<seeds>x<suffixes>" and `slots` trained rollouts (default 1x4, 8):
  1. Base group: `slots - seeds*suffixes` fresh rollouts, trained (1x4: 4). When the split leaves
     no base group (2x4, 1x8) a probe of `probe_size` fresh rollouts is drawn instead and not
     trained. Either way these first draws give the step's `pass_rate`.
  2. Seed search: fresh rollouts are drawn until `seeds` failures are found or `max_attempts`
     draws (first draws included) are used. With sampling.batching=step (default) every prompt
     still short of seeds draws all its remaining attempts at once, speculatively, in one call
     for all such prompts; with "per_round", rounds of `search_batch` per prompt. Seeds are the
     first failures in draw order either way. Draws beyond the base group are not trained
     (their tokens, the speculative ones past the seed included, count as seed-search tokens).
     A backend that can cancel rows while they run (the async vLLM engine) aborts a speculative
     draw as soon as the draws before it hold the prompt's seeds (scored as they end): it could
     never be a seed. Aborted draws leave `draws`; they are counted (`aborted_draws`) with their
     tokens (`aborted_tokens`), never scored, never trained.
  3. The agent chooses a reset index h* per seed (`Agent.choose_resets`).
  4. Shared-prefix group per seed: `suffixes` continuations of the reset state x* = (prompt,
     seed thoughts 1..h*-1), token-exact; only the suffix tokens are trained.
  5. Fallback: for each seed not found, a group of `suffixes` fresh rollouts. Untrained search
     draws that are not seeds are reused first (they are i.i.d. fresh rollouts of the same
     policy, so this is the same distribution at no extra cost); the rest are generated.
GRPO (`Agent.uses_resets` False): one group of `slots` fresh rollouts, no seed search.
An agent that arranges its own groups (Critique-GRPO, SCoRe, SPO-tree, VinePPO: `Agent.build_groups`
returns the PromptBuffers) replaces all of the above; it generates with this builder's roller and verifier,
and draws its fresh first rollouts with `BufferBuilder.first_draws` so that they are paired too.

Pairing (`build(tasks, seed=...)`, trainer.paired): the first `paired` draws of every prompt come
from ONE generate call seeded with the step's seed, and every agent makes exactly that call (the
same fresh prompts, `paired` per prompt, in task order), because a seeded sampler's draws depend on
the call's layout (rows per prompt, order). So two agents with one seed start from identical first
draws while their weights agree: GRPO's and a reset agent's base groups, Critique-GRPO's originals,
SCoRe's first attempts, VinePPO's rollouts, SPO-tree's first-level episodes (the tree's only fresh
draws; deeper branches continue them from the running stream). An agent that needs fewer fresh
draws than `paired` (SPO-tree's release preset: 2) still draws `paired` and keeps the surplus as an
untrained probe (pass-rate sample, tokens_seed_search), as a reset split without a base group does.

Graph mode (sampling.batching=graph, a backend that serves concurrent calls): steps 1-5 of each
prompt run as that prompt's own task, every prompt at once (`codereset.rollouts.graph`); the rules
above are the same, the paired first draws are seeded per prompt and the agent draws each prompt's
h* from a stream of that prompt's own, so neither depends on the engine's timing.

Every group is normalized on its own later (`codereset.learn.update.assign_advantages`). Under a task
with a step-level oracle, each reset group also records the oracle's first error h_oracle
(1-based; None when the oracle finds none) for the localization diagnostics.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from codereset.learn.advantages import STD_EPS
from codereset.agents.base import Agent, ResetChoice
from codereset.rollouts.infra import infra_failed
from codereset.rollouts.graph import build_graph, per_prompt, prompt_seed
from codereset.rollouts.rollout import CONCURRENT_BATCHING, Roller, Rollout
from codereset.rollouts.scoring import OverlappedScorer, SerialVerifier
from codereset.run.timing import PhaseTimes
from codereset.rollouts.values import record_mc_diagnostics
from envs.oracle import first_error, has_oracle


def _failed(rollout: Rollout) -> bool:
    """A seed candidate: verified and wrong. A rollout the verifier could not judge (an
    infrastructure failure, `codereset.rollouts.infra`) is neither a seed nor a reason to stop searching."""
    return not rollout.correct and not infra_failed(rollout)


@dataclass(frozen=True)
class Split:
    """How the reset slots are arranged: `seeds` reset states with `suffixes` rollouts each."""

    seeds: int
    suffixes: int

    @classmethod
    def parse(cls, text: str) -> "Split":
        match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", str(text))
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ValueError(f"buffer.split must look like '<seeds>x<suffixes>' with both >= 1, "
                             f"e.g. 1x4 (default), 2x4, 1x8; got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))


@dataclass
class Group:
    """A set of rollouts whose advantages are normalized together.

    kind: "base" (fresh, trained), "reset" (shared prefix) or "fallback" (fresh, replacing a reset
        group whose seed was not found).
    rollouts: the group's rollouts.
    seed: the failed rollout a reset group branches from; choice: the agent's ResetChoice.
    h_oracle: the oracle's first erroneous thought (1-based) of the seed, None when it finds none;
        only meaningful when `oracle` is True (the task has a step-level oracle).
    advantages: one per rollout, set by `assign_advantages` (an agent that sets them itself when
        it builds the group keeps them: SPO-tree's node-value differences, VinePPO's MC values).
    shaped_rewards: one per rollout, what `assign_advantages` normalizes (trainer.advantage)
        instead of the rollouts' own rewards, when an agent shapes them (SCoRe's second attempts:
        r2 + alpha * (r2 - r1)); None: the rollouts' rewards. `rewards` stays the verifier's.
    """

    kind: str
    rollouts: list[Rollout]
    seed: Rollout | None = None
    choice: ResetChoice | None = None
    oracle: bool = False
    h_oracle: int | None = None
    mc_judged: bool = False          # agent.values.diagnose judged the seed (codereset.rollouts.values)
    mc_h_oracle: int | None = None
    advantages: list[float] | None = None
    shaped_rewards: list[float] | None = None

    def __post_init__(self) -> None:
        if self.shaped_rewards is not None and len(self.shaped_rewards) != len(self.rollouts):
            raise ValueError(f"a {self.kind} group has {len(self.rollouts)} rollouts but "
                             f"{len(self.shaped_rewards)} shaped rewards; give one per rollout")

    @property
    def rewards(self) -> list[float]:
        return [r.reward for r in self.rollouts]

    @property
    def has_signal(self) -> bool:
        """Non-zero reward variance (population std >= advantages.STD_EPS)."""
        rewards = self.rewards
        mean = sum(rewards) / len(rewards)
        return (sum((x - mean) ** 2 for x in rewards) / len(rewards)) ** 0.5 >= STD_EPS

    @property
    def n_correct(self) -> int:
        return sum(r.correct for r in self.rollouts)

    @property
    def h(self) -> int | None:
        return self.choice.h if self.choice is not None else None

    @property
    def depth(self) -> float | None:
        """Normalized reset position h*/n (n = the seed's thoughts)."""
        return self.choice.h / self.seed.n_thoughts if self.choice is not None else None

    @property
    def clean_prefix(self) -> bool | None:
        """Oracle view of the reset prefix: clean when h* <= h_oracle (or no error found)."""
        return self.clean_against(self.h_oracle) if self.oracle else None

    def clean_against(self, h_ref: int | None) -> bool | None:
        """Whether the reset prefix is clean against a first error at thought `h_ref` (1-based;
        None: no error found, so clean): h* <= h_ref. None for a group that does not reset."""
        if self.choice is None:
            return None
        return h_ref is None or self.choice.h <= h_ref


@dataclass
class PromptBuffer:
    """Everything drawn for one prompt in one step.

    draws: the fresh rollouts of the base group / probe and the seed search, in draw order.
    first: how many of `draws` were the base group or probe (the pass-rate sample).
    seeds: the failed rollouts chosen as seeds.
    groups: the trained groups (base if any, then reset and fallback groups).
    extra_tokens: tokens generated for this prompt outside every rollout above, by kind (e.g.
        "mc": Monte-Carlo value continuations); the metrics row reports each as tokens_<kind>.
    diagnostics: JSON-safe per-prompt values an agent records for the metrics row (name -> list).
    pass_rollouts: see `pass_sample`.
    aborted_draws, aborted_tokens: seed-search draws aborted as surplus (module docstring) and the
        tokens they had generated (in `extra_tokens["aborted"]` too, so tokens_generated holds them).
    """

    task: Any
    draws: list[Rollout]
    first: int
    seeds: list[Rollout] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    extra_tokens: dict[str, int] = field(default_factory=dict)
    diagnostics: dict[str, list] = field(default_factory=dict)
    pass_rollouts: list[Rollout] | None = None
    aborted_draws: int = 0
    aborted_tokens: int = 0

    @property
    def pass_sample(self) -> list[Rollout]:
        """The first draws, or `pass_rollouts` when an agent whose trained units are not whole
        rollouts (SPO-tree's segments) names the fresh rollouts of the pass rate itself."""
        return self.draws[: self.first] if self.pass_rollouts is None else self.pass_rollouts

    def untrained_draws(self) -> list[Rollout]:
        """Draws that are in no trained group (pure seed-search cost)."""
        trained = {id(r) for g in self.groups for r in g.rollouts}
        return [r for r in self.draws if id(r) not in trained]


@dataclass
class StepBuffer:
    """The buffers of all prompts of a step, the wall time each phase took, and how generation
    was cut: gen_calls = backend `generate` calls of the build (localization included), gen_rows
    = continuations they asked for (None when the backend does not count rows)."""

    prompts: list[PromptBuffer]
    times: PhaseTimes
    gen_calls: int | None = None
    gen_rows: int | None = None

    @property
    def gen_rows_per_call(self) -> float | None:
        if not self.gen_calls or self.gen_rows is None:
            return None
        return self.gen_rows / self.gen_calls

    @property
    def groups(self) -> list[Group]:
        return [g for p in self.prompts for g in p.groups]


class BufferBuilder:
    """Builds a step's buffers, batching generation across prompts (see the module docstring).

    cfg: `BufferConfig` (split, slots, probe_size, max_attempts, search_batch).
    """

    def __init__(self, cfg: Any, agent: Agent, roller: Roller, verifier: Any) -> None:
        self.cfg = cfg
        self.split = Split.parse(cfg.split)
        self.agent = agent
        self.roller = roller
        if roller.batching in CONCURRENT_BATCHING:  # prompts score at once (codereset.rollouts.graph)
            verifier = SerialVerifier(verifier)
        self.verifier = verifier
        self._scorer: OverlappedScorer | None = None  # graph mode: the step's shared scorer
        agent.attach(roller, verifier)
        self.base_size = cfg.slots - self.split.seeds * self.split.suffixes
        if agent.uses_resets and self.base_size < 0:
            raise ValueError(f"buffer.split={cfg.split} needs {self.split.seeds * self.split.suffixes} "
                             f"reset slots but buffer.slots={cfg.slots}; raise slots or shrink the split")
        if agent.uses_resets and cfg.max_attempts < self._first_count:
            raise ValueError(f"buffer.max_attempts={cfg.max_attempts} is below the {self._first_count} first draws")

    def build(self, tasks: Sequence[Any], seed: int | None = None) -> StepBuffer:
        """The step's buffers for `tasks`. With `seed`, the first `paired` draws of every prompt
        (the base group: slots - seeds*suffixes, or the probe when the split leaves none; GRPO
        uses the same count out of its slots; an agent with its own groups gets the seed and
        draws them with `first_draws`) come from one generate call seeded with it, so two agents
        given the same seed start from identical first draws (same backend and weights); every
        later draw comes from the running random stream. With sampling.batching=graph each
        prompt's chain runs as its own task (`codereset.rollouts.graph`, which also says how the
        paired draws are seeded there). The build's wall seconds are the phase "build"."""
        times = PhaseTimes()
        started = time.perf_counter()
        if self.roller.batching in CONCURRENT_BATCHING:  # one scorer for every prompt's calls
            with OverlappedScorer(self.roller, self.verifier) as scorer:
                self._scorer = scorer
                try:
                    buf = self._build(tasks, seed, times)
                finally:
                    self._scorer = None
            times.add("verify_busy", scorer.busy_s)
        else:
            buf = self._build(tasks, seed, times)
        times.add("build", time.perf_counter() - started)
        return buf

    def _build(self, tasks: Sequence[Any], seed: int | None, times: PhaseTimes) -> StepBuffer:
        before = self._backend_counts()
        own = self.agent.build_groups(self, tasks, times, seed)
        if own is not None:
            return self._counted(StepBuffer(own, times), before)
        if not self.agent.uses_resets:
            draws = self._first_draws(tasks, "base", self.cfg.slots, seed, times)
            prompts = [PromptBuffer(t, d, len(d), groups=[Group("base", d)]) for t, d in zip(tasks, draws)]
            return self._counted(StepBuffer(prompts, times), before)
        if self.roller.batching in CONCURRENT_BATCHING:
            prompts = build_graph(self, tasks, seed, times)
        else:
            prompts = [self._first_buffer(t, d) for t, d in zip(tasks, self._first_draws(
                tasks, self._first_kind, self._first_count, seed, times))]
            self._search(prompts, times)
            for p in prompts:
                self.pick_seeds(p)
            self._reset_groups(prompts, times)
        if any(p.aborted_draws for p in prompts):  # metrics: aborted_draws, one count per prompt
            for p in prompts:
                p.diagnostics["aborted_draws"] = [p.aborted_draws]
        return self._counted(StepBuffer(prompts, times), before)

    @property
    def _first_count(self) -> int:
        """A reset agent's first draws per prompt: the base group, or the probe without one."""
        return self.base_size if self.base_size > 0 else self.cfg.probe_size

    @property
    def _first_kind(self) -> str:
        return "base" if self.base_size > 0 else "seed_search"

    def _first_buffer(self, task: Any, draws: list[Rollout]) -> PromptBuffer:
        return PromptBuffer(task, draws, self._first_count)

    def first_buffer(self, task: Any, seed: int | None, times: PhaseTimes) -> PromptBuffer:
        """A reset agent's buffer of one prompt holding its first draws, the paired ones from one
        call seeded with `seed` (graph mode: the prompt's own seed, `graph.prompt_seed`)."""
        return self._first_buffer(task, self._first_draws_call([task], self._first_kind, self._first_count,
                                                               seed, times)[0])

    def pick_seeds(self, p: PromptBuffer) -> None:
        """After the search: the seeds (the first failures in draw order) and the base group."""
        p.seeds = [r for r in p.draws if _failed(r)][: self.split.seeds]
        if self.base_size > 0:
            p.groups.append(Group("base", p.draws[: self.base_size]))

    @property
    def paired(self) -> int:
        """How many first draws per prompt `build(seed=...)` draws from the seeded call: the base
        group (or the probe when the split leaves none), at most `slots`; one number for every
        agent of a comparison (it depends on the buffer config only)."""
        return min(self._first_count, self.cfg.slots)

    def first_draws(self, tasks: Sequence[Any], kind: str, total: int, seed: int | None,
                    times: PhaseTimes) -> tuple[list[list[Rollout]], list[list[Rollout]]]:
        """For an agent that arranges its own groups: (`total` fresh rollouts of each task, of
        `kind`, scored; the untrained probe of each task). With `seed` (the step's pairing seed,
        `build`), the first `paired` draws come from the one seeded call every agent makes (module
        docstring); when `total < paired` the rest of that call is the probe (kind "seed_search":
        keep it in `PromptBuffer.draws`, outside the groups). Without a seed the probe is empty."""
        if total < 1:
            raise ValueError(f"an agent needs at least 1 fresh rollout per prompt, asked for {total}")
        draws = self._first_draws(tasks, kind, total, seed, times)
        probes = [d[total:] for d in draws]
        for r in (r for p in probes for r in p):
            r.kind = "seed_search"
        return [d[:total] for d in draws], probes

    def _first_draws(self, tasks: Sequence[Any], kind: str, total: int, seed: int | None,
                     times: PhaseTimes) -> list[list[Rollout]]:
        """`total` fresh draws per task; with `seed`, max(total, paired): the first `paired` from
        the seeded call, the rest from the running stream. Graph mode: one call per task, all
        at once, task i's seeded with `graph.prompt_seed(seed, i)` (the calls a reset agent's
        chains make), so every agent draws the same paired first rollouts."""
        if self.roller.batching in CONCURRENT_BATCHING:
            return per_prompt(tasks, lambda i, t: self._first_draws_call([t], kind, total, prompt_seed(seed, i),
                                                                         times)[0])
        return self._first_draws_call(tasks, kind, total, seed, times)

    def _first_draws_call(self, tasks: Sequence[Any], kind: str, total: int, seed: int | None,
                          times: PhaseTimes) -> list[list[Rollout]]:
        if seed is None or total <= 0:
            return self._draw([self.roller.fresh(t, kind) for t in tasks], total, times)
        draws = self._draw([self.roller.fresh(t, kind) for t in tasks], self.paired, times,
                           roller=self.roller.seeded(seed))
        if total > self.paired:
            rest = self._draw([self.roller.fresh(t, kind) for t in tasks], total - self.paired, times)
            draws = [a + b for a, b in zip(draws, rest)]
        return draws

    def _backend_counts(self) -> tuple[int | None, int | None]:
        stats = getattr(self.roller.backend, "stats", None) or {}
        rows = stats.get("rows", stats.get("requests"))
        return stats.get("calls"), rows

    def _counted(self, buf: StepBuffer, before: tuple[int | None, int | None]) -> StepBuffer:
        after = self._backend_counts()
        if before[0] is not None and after[0] is not None:
            buf.gen_calls = after[0] - before[0]
        if before[1] is not None and after[1] is not None:
            buf.gen_rows = after[1] - before[1]
        return buf

    def _draw(self, starts: list[Rollout], n: int | list[int], times: PhaseTimes,
              roller: Roller | None = None, abort: Any = None) -> list[list[Rollout]]:
        """Generate and score. sampling.batching=step scores each rollout in the sandbox pool as
        soon as it ends, while the rest still generate (`codereset.rollouts.scoring`); time_verify_s is
        then only the wait after generation, and verify_busy the scoring time in all. Graph mode:
        the step's shared scorer, this call waiting for its own rollouts only."""
        roller = roller or self.roller
        if self._scorer is not None:
            scorer, submitted = self._scorer, []

            def submit(rollout: Rollout) -> None:
                submitted.append(rollout)
                scorer.submit(rollout)

            with times.phase("generate"):
                groups = roller.run(starts, n, on_done=submit, abort=abort)
            with times.phase("verify"):
                scorer.wait_for(submitted)
            return groups
        if roller.batching == "per_round":
            with times.phase("generate"):
                groups = roller.run(starts, n)
            with times.phase("verify"):
                roller.score(self.verifier, [r for g in groups for r in g])
            return groups
        with OverlappedScorer(roller, self.verifier) as scorer:
            with times.phase("generate"):
                groups = roller.run(starts, n, on_done=scorer.submit, abort=abort)
            with times.phase("verify"):
                scorer.wait()
        times.add("verify_busy", scorer.busy_s)
        return groups

    def _search(self, prompts: list[PromptBuffer], times: PhaseTimes) -> None:
        """Draw fresh rollouts until each prompt has its seeds or used its attempts. Batching
        "step": every prompt still short of seeds draws all its remaining attempts in one
        speculative round (one call for all such prompts); "per_round": rounds of search_batch.
        Either way the seeds are the first failures in draw order, so they are distributed alike."""
        while True:
            need = [p for p in prompts if sum(map(_failed, p.draws)) < self.split.seeds
                    and len(p.draws) < self.cfg.max_attempts]
            if not need:
                return
            width = self.cfg.search_batch if self.roller.batching == "per_round" else self.cfg.max_attempts
            counts = [min(width, self.cfg.max_attempts - len(p.draws)) for p in need]
            missing = [self.split.seeds - sum(map(_failed, p.draws)) for p in need]

            def surplus(i: int, j: int, rollouts: list[Rollout]) -> bool:
                """Draw j of prompt need[i] can no longer be a seed: the draws before it already
                hold the seeds still missing (scored ones only; outcomes arrive as they end)."""
                return sum(1 for r in rollouts[:j] if r.outcome is not None and _failed(r)) >= missing[i]

            new = self._draw([self.roller.fresh(p.task, "seed_search") for p in need], counts, times,
                             abort=surplus)
            for p, rollouts in zip(need, new):
                aborted = [r for r in rollouts if r.aborted is not None]
                p.draws.extend(r for r in rollouts if r.aborted is None)
                if aborted:
                    p.aborted_draws += len(aborted)
                    p.aborted_tokens += sum(r.aborted for r in aborted)
                    p.extra_tokens["aborted"] = p.extra_tokens.get("aborted", 0) + sum(r.aborted for r in aborted)

    def _reset_groups(self, prompts: list[PromptBuffer], times: PhaseTimes) -> None:
        seeds = [s for p in prompts for s in p.seeds]
        with times.phase("localize"):
            choices = self.agent.choose_resets(seeds)
        if len(choices) != len(seeds):
            raise RuntimeError(f"agent {self.agent.name} returned {len(choices)} reset choices for "
                               f"{len(seeds)} seeds")
        choice_of = {id(s): c for s, c in zip(seeds, choices)}
        starts: list[Rollout] = []
        counts: list[int] = []
        pending: list[tuple[PromptBuffer, Group]] = []
        for p in prompts:
            for seed in p.seeds:
                choice = choice_of[id(seed)]
                group = Group("reset", [], seed=seed, choice=choice, oracle=has_oracle(p.task))
                if group.oracle:
                    i = first_error(p.task, seed.thoughts, self.roller.rules)
                    group.h_oracle = None if i is None else i + 1
                starts.append(seed.reset_state(choice.h))
                counts.append(self.split.suffixes)
                pending.append((p, group))
            for _ in range(self.split.seeds - len(p.seeds)):
                reuse = self._reusable(p)[: self.split.suffixes]
                for r in reuse:
                    r.kind = "fallback"
                group = Group("fallback", list(reuse))
                p.groups.append(group)  # placed now so the next fallback does not reuse the same draws
                starts.append(self.roller.fresh(p.task, "fallback"))
                counts.append(self.split.suffixes - len(reuse))
                pending.append((p, group))
        new = self._draw(starts, counts, times)
        for (p, group), rollouts in zip(pending, new):
            group.rollouts.extend(rollouts)
            if group.kind == "reset":
                p.groups.append(group)
        if self.agent.cfg.values.diagnose:  # h* against the Monte-Carlo first error (any suite)
            record_mc_diagnostics(prompts, self.roller, self.verifier, self.agent.cfg.values, times)

    def _reusable(self, p: PromptBuffer) -> list[Rollout]:
        """Untrained, non-seed draws of `p` (fresh i.i.d. rollouts) in draw order."""
        seeds = {id(s) for s in p.seeds}
        return [r for r in p.untrained_draws() if id(r) not in seeds]
