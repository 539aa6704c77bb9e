"""SCoRe's groups with the scripted policy: second attempts conditioned on the first, and the
stage-II shaped reward r2 + alpha (r2 - r1) behind the second group's advantages."""

import random

import pytest
import torch
from scripted_policy import MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

from codereset.learn.advantages import group_norm
from codereset.agents import AgentContext, make_agent
from codereset.agents.score import INSTRUCTION, shaped_rewards
from codereset.rollouts.buffer import BufferBuilder
from codereset.config import AgentConfig, BufferConfig, ScoreConfig
from codereset.run.metrics import step_metrics
from codereset.rollouts.rollout import Roller
from codereset.learn.update import UpdateResult, assign_advantages
from envs.rules import ThoughtRules

P0 = "Problem number 0: solve it."


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def test_shaping_rewards_improvement():
    assert shaped_rewards([1, 0, 0, 1], [1, 1, 0, 0], 1.0) == [1, 2, 0, -1]
    assert shaped_rewards([0.5], [1.0], 10.0) == [6.0]


def test_two_attempt_groups(tok):
    backend = ScriptedBackend(tok, PlannedPolicy({P0: "RWWR", INSTRUCTION: "RRWW"}))
    cfg = AgentConfig(name="score", score=ScoreConfig(alpha=1.0))
    agent = make_agent("score", cfg, AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, ThoughtRules()), MarkerVerifier())
    buf = builder.build([make_task(0)])
    (p,) = buf.prompts
    first, second = p.groups
    assert (first.kind, second.kind) == ("first_attempt", "second_attempt")
    assert first.rewards == [1.0, 0.0, 0.0, 1.0] and second.rewards == [1.0, 1.0, 0.0, 0.0]
    for a, b in zip(first.rollouts, second.rollouts):  # each second attempt continues its first
        assert b.prompt_ids[: len(a.prefix_ids())] == a.prefix_ids() and b.kind == "second_attempt"
        assert INSTRUCTION in tok.decode(b.prompt_ids[len(a.prefix_ids()):])
    assert first.advantages is None and second.advantages is None    # left to trainer.advantage
    assert second.shaped_rewards == [1.0, 2.0, 0.0, -1.0]
    assign_advantages(buf.groups, "group_norm")
    assert first.advantages == pytest.approx(group_norm(torch.tensor([1.0, 0, 0, 1])).tolist())
    assert second.advantages == pytest.approx(group_norm(torch.tensor([1.0, 2, 0, -1])).tolist())
    row = step_metrics(1, buf, UpdateResult(0.0, 0.0, False, 8, 8, 0), {})
    assert row["score_improvements"] == [0.0, 1.0, 0.0, -1.0] and row["pass_rate"] == 0.5
    assert row["tokens_trained_second_attempt"] == sum(r.generated_tokens for r in second.rollouts)


def build(tok, plan, verifier=None, alpha=1.0, policy=PlannedPolicy):
    backend = ScriptedBackend(tok, policy(plan))
    cfg = AgentConfig(name="score", score=ScoreConfig(alpha=alpha))
    agent = make_agent("score", cfg, AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, ThoughtRules()), verifier or MarkerVerifier())
    return builder.build([make_task(0)]).prompts[0]


@pytest.mark.parametrize("estimator, first, second", [
    ("mean_center", [0.5, -0.5, -0.5, 0.5], [0.5, 1.5, -0.5, -1.5]),          # r - mean(r)
    ("rloo", [2 / 3, -2 / 3, -2 / 3, 2 / 3], [2 / 3, 2.0, -2 / 3, -2.0]),     # 4/3 (r - mean(r))
])
def test_both_groups_follow_the_trainers_advantage_estimator(tok, estimator, first, second):
    """r1 = [1, 0, 0, 1], r2 = [1, 1, 0, 0]: shaped second rewards [1, 2, 0, -1] (alpha 1)."""
    p = build(tok, {P0: "RWWR", INSTRUCTION: "RRWW"})
    assign_advantages(p.groups, estimator)
    assert p.groups[0].advantages == pytest.approx(first)
    assert p.groups[1].advantages == pytest.approx(second)
    assert p.groups[1].rewards == [1.0, 1.0, 0.0, 0.0]                          # the verifier's, unshaped


class MarkedSecondAttempts(PlannedPolicy):
    """The scripted policy, whose second attempts open with "second try" instead of "step one"."""

    def __call__(self, text, j):
        out = super().__call__(text, j)
        return out.replace("step one", "second try") if INSTRUCTION in text else out


class FirstAttemptsUnjudged(MarkerVerifier):
    """A wrong first attempt's verification ends in a sandbox error (its retry too)."""

    def score_many(self, items):
        from envs.verify import Outcome

        return [o if o.correct or thoughts[0].startswith("second try") else Outcome(0.0, False, "sandbox_error", {})
                for o, (_, thoughts) in zip(super().score_many(items), items)]


def test_an_unjudged_first_attempt_gives_no_progress_bonus(tok):
    from codereset.rollouts.infra import infra_failed

    p = build(tok, {P0: "RWWR", INSTRUCTION: "RRWW"}, verifier=FirstAttemptsUnjudged(), policy=MarkedSecondAttempts)
    first, second = p.groups
    assert [infra_failed(r) for r in first.rollouts] == [False, True, True, False]
    # shaped: 1 + (1 - 1), 1 + 0 (no bonus: r1 unknown), 0 + 0, 0 + (0 - 1)
    assert second.shaped_rewards == [1.0, 1.0, 0.0, -1.0]
    assign_advantages(p.groups, "mean_center")
    assert first.advantages == [0.0, 0.0, 0.0, 0.0]             # the two judged ones are both right
    assert second.advantages == pytest.approx([0.75, 0.75, -0.25, -1.25])


def test_odd_slots_are_refused(tok):
    backend = ScriptedBackend(tok, PlannedPolicy({}))
    agent = make_agent("score", AgentConfig(name="score"), AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(slots=7), agent, Roller(backend, ThoughtRules()), MarkerVerifier())
    with pytest.raises(ValueError, match="even"):
        builder.build([make_task(0)])
