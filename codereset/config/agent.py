"""The agent's section (`agent.*`): which method chooses the reset states or builds the groups,
and each method's own settings (SRPO's localization, Monte-Carlo values, Critique-GRPO, SCoRe,
SPO-tree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING


@dataclass
class LocalizeConfig:
    """SRPO's self-localization prompt (`codereset.rollouts.localize`).

    variant: "L2" hides the correct answer (default), "L1" shows the task's reference answer.
    worked_example: show one worked localization example before the question.
    temperature: sampling temperature of the answer.
    top_p: nucleus mass of the answer.
    max_new_tokens: token budget of the answer.
    answer_prefix: text the model's answer turn starts with (appended after the chat template's
        generation prompt; parsed as part of the answer). "" (default) leaves the whole answer to
        the model, as method.md writes it; the main job sets `localize.ANSWER_PREFIX` ("The first
        erroneous step is Step "), because SmolLM2-135M otherwise mostly echoes the attempt and
        runs out of tokens (benchmarks/localization_probe.py).
    fallback: rule for unparseable / out-of-range answers: "uniform" (h* uniform in 1..n, the
        RRPO reset), "last" (h* = n) or "first" (h* = 1).
    made_for: the model (`model.name`) these prompt settings were tuned for, set by the model
        preset that tunes them (conf/model/smollm2.yaml); None = neutral settings, fit for any
        model. A policy-localizing run whose model.name differs is refused before it starts
        (`codereset.run.preflight`), so nothing tuned for one model reaches another by
        inheritance (e.g. `model.name=Qwen/...` on the default preset).
    """

    variant: str = "L2"
    worked_example: bool = True
    temperature: float = 0.3
    top_p: float = 1.0
    max_new_tokens: int = 256
    answer_prefix: str = ""
    fallback: str = "uniform"
    made_for: str | None = None


@dataclass
class ValuesConfig:
    """Monte-Carlo state values (`codereset.rollouts.values`): VinePPO's advantages and the `mc` oracle.

    k: continuations sampled from each state to estimate its value.
    drop_threshold: the MC oracle's first error is the first thought after which the estimated
        value drops by more than this.
    diagnose: also estimate the MC first error of every reset seed and log the agent's h*
        against it (metrics mc_h_oracle, mc_localization_deviations; tokens_mc): localization
        quality on suites without an exact oracle (code).
    """

    k: int = 8
    drop_threshold: float = 0.25
    diagnose: bool = False


@dataclass
class CritiqueConfig:
    """Critique-GRPO (`codereset.agents.critique_grpo`).

    variant: critique text: "binary" (says the answer is incorrect; the release's) or "reference"
        (also shows the task's reference answer).
    refinements: refinement slots per prompt (the rest of buffer.slots are original rollouts).
    """

    variant: str = "binary"
    refinements: int = 1


@dataclass
class ScoreConfig:
    """SCoRe two-attempt self-correction (`codereset.agents.score`).

    alpha: stage-II shaping weight: the second attempt's training reward is
        r2 + alpha * (r2 - r1).
    """

    alpha: float = 1.0


@dataclass
class TreeConfig:
    """SPO-tree segment tree (`codereset.agents.spo_tree`).

    preset: "release" (branching [2, 4], 600-token segments) or "spo_paper" ([6, 6, 6], 600).
    branching: children per node at each depth; None = the preset's.
    segment_tokens: a segment ends at the first thought boundary at or past this many tokens;
        None = the preset's.
    """

    preset: str = "release"
    branching: Optional[list[int]] = None
    segment_tokens: Optional[int] = None


@dataclass
class AgentConfig:
    """Which method chooses the reset states or builds the groups (`codereset.agents.AGENTS`).

    name: "grpo", "rrpo", "srpo", "caro", "critique_grpo", "score", "spo_tree" or "vineppo";
        chosen with `+agent=NAME` (no default on purpose).
    localizer: how a reset agent chooses h* (`codereset.agents.localizers.LOCALIZERS`: "uniform",
        "self", "oracle", "entropy"); None = the agent's own (rrpo: uniform, srpo: self, caro:
        oracle, entropy: entropy). Another localizer on a reset agent labels its arm
        `agent[localizer]-split` (`codereset.agents.arm_label`); agents that never reset refuse one.
    localize: the "self" localizer's settings (SRPO's prompt; unused by the other localizers).
    oracle: the "oracle" localizer's (CARO's) oracle: "auto" (the exact step-level oracle where the suite has one, else
        Monte-Carlo), "exact" or "mc" (`codereset.rollouts.values.mc_first_error`).
    values: Monte-Carlo value settings (VinePPO, the mc oracle).
    critique: Critique-GRPO's settings. score: SCoRe's. tree: SPO-tree's.
    """

    name: str = MISSING
    localizer: str | None = None
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    oracle: str = "auto"
    values: ValuesConfig = field(default_factory=ValuesConfig)
    critique: CritiqueConfig = field(default_factory=CritiqueConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    tree: TreeConfig = field(default_factory=TreeConfig)
