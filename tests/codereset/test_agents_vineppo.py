"""VinePPO's groups: one fresh group per prompt whose tokens carry V(s_t) - V(s_{t-1}) from
(here: fixed) Monte-Carlo estimates, the MC tokens counted, and the update using them."""

import random

import pytest
from scripted_policy import MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

import codereset.agents.vineppo as vineppo
from codereset.agents import AgentContext, make_agent
from codereset.rollouts.buffer import BufferBuilder
from codereset.config import AgentConfig, BufferConfig
from codereset.run.metrics import step_metrics
from codereset.rollouts.rollout import Roller
from codereset.learn.update import UpdateResult, assign_advantages
from codereset.rollouts.values import MCResult, MCValues
from envs.rules import ThoughtRules


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def fixed_mc(curves, tokens_each=5):
    """A stand-in for mc_values: rollout i gets curves[i] (its reward appended as V_n)."""
    calls = []

    def fake(rollouts, roller, verifier, k, times=None):
        calls.append((len(rollouts), k))
        per = [MCValues(list(c) + [r.reward], [k] * len(c), tokens_each) for r, c in zip(rollouts, curves)]
        return MCResult(per, tokens_each * len(rollouts), k * len(rollouts))

    return fake, calls


def test_per_thought_advantages_from_fixed_estimates(tok, monkeypatch):
    curves = [[0.5, 0.25, 0.75], [0.5, 1.0, 0.5]]  # V_0..V_2 of each rollout (3 thoughts each)
    fake, calls = fixed_mc(curves)
    monkeypatch.setattr(vineppo, "mc_values", fake)
    backend = ScriptedBackend(tok, PlannedPolicy({"Problem number 0: solve it.": "RW"}))
    cfg = AgentConfig(name="vineppo")
    agent = make_agent("vineppo", cfg, AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(slots=2), agent, Roller(backend, ThoughtRules()), MarkerVerifier())
    buf = builder.build([make_task(0)])
    assert calls == [(2, 8)]                        # one batched estimate over the step's rollouts
    (p,) = buf.prompts
    (g,) = p.groups
    right, wrong = g.rollouts
    assert (right.reward, wrong.reward) == (1.0, 0.0)
    # A_t = V_t - V_{t-1}, with V_3 = the reward
    expect = [[-0.25, 0.5, 0.25], [0.5, -0.5, -0.5]]
    for r, a in zip(g.rollouts, expect):
        assert r.token_advantages == [x for seg, v in zip(r.segments, a) for x in [v] * len(seg)]
    assert g.advantages == [0.5, -0.5]              # r - V_0 (what the per-thought values sum to)
    assign_advantages(buf.groups, "group_norm")     # kept: set by the agent
    assert g.advantages == [0.5, -0.5]
    row = step_metrics(1, buf, UpdateResult(0.0, 0.0, False, 2, 2, 0), {})
    assert row["tokens_mc"] == 10 and row["tokens_seed_search"] == 0
    assert row["tokens_generated"] == row["tokens_trained"] + 10
    assert row["mc_start_values"] == [0.5] and row["pass_rate"] == 0.5


def test_the_loss_takes_per_token_advantages():
    import torch

    from codereset.learn.losses import LossConfig, clipped_loss, pg_loss

    logp = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -0.5, -4.0]], requires_grad=True)
    mask = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    adv = torch.tensor([[9.0, 1.0, -1.0], [2.0, 4.0, 9.0]])    # masked positions must not count
    loss, stats = pg_loss(logp, None, adv, mask, LossConfig())
    expect = -((1.0 * -2 + -1.0 * -3) / 2 + (2.0 * -0.5 + 4.0 * -0.5) / 2) / 2
    assert loss.item() == pytest.approx(expect) and stats["advantage_abs_mean"] == pytest.approx(2.0)
    # a constant row is the same as its scalar advantage
    flat = torch.tensor([[3.0] * 3, [-1.0] * 3])
    same, _ = pg_loss(logp, None, flat, mask, LossConfig())
    assert same.item() == pytest.approx(pg_loss(logp, None, torch.tensor([3.0, -1.0]), mask, LossConfig())[0].item())
    (g1,) = torch.autograd.grad(clipped_loss(logp, None, adv, mask, LossConfig())[0], logp)
    (g2,) = torch.autograd.grad(pg_loss(logp, None, adv, mask, LossConfig())[0], logp)
    assert torch.allclose(g1, g2)  # on-policy: the clipped loss has the pg gradient, per token too
    with pytest.raises(ValueError, match=r"\(B,T\)"):
        pg_loss(logp, None, torch.zeros(3), mask, LossConfig())

