"""SPO-tree on a scripted tree whose values are known: segment cuts, node values, advantages
V(node) - V(parent), one generation per branch point, each token trained once."""

import random

import pytest
from scripted_policy import STOP, MarkerVerifier, ScriptedBackend, byte_tokenizer, make_task, split_prefix

from codereset.agents import AgentContext, make_agent
from codereset.agents.spo_tree import segment_end, tree_settings
from codereset.rollouts.buffer import BufferBuilder
from codereset.config import AgentConfig, BufferConfig, TreeConfig
from codereset.run.metrics import step_metrics
from codereset.rollouts.rollout import Roller, Rollout
from codereset.learn.update import UpdateResult
from envs.rules import ThoughtRules


class BranchPolicy:
    """Thought 1 is "a<j>"; thought 2's verdict is popped from plan["a<j>"] in draw order; the
    final answer repeats it."""

    def __init__(self, plan):
        self.plan = {k: list(v) for k, v in plan.items()}

    def __call__(self, text, j):
        _, thoughts = split_prefix(text)
        if not thoughts:
            return f"a{j}" + STOP
        if len(thoughts) == 1:
            verdict = self.plan[thoughts[0][: -len(STOP)]].pop(0)
            return f"v {'RIGHT' if verdict == 'R' else 'WRONG'}" + STOP
        verdict = "RIGHT" if "RIGHT" in thoughts[1] else "WRONG"
        return f"```python\nANSWER = '{verdict}'\n```" + STOP


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def build(tok, plan, **tree):
    backend = ScriptedBackend(tok, BranchPolicy(plan))
    cfg = AgentConfig(name="spo_tree", tree=TreeConfig(**tree))
    agent = make_agent("spo_tree", cfg, AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, ThoughtRules()), MarkerVerifier())
    return builder.build([make_task(0)]), backend


def test_presets_and_overrides():
    assert tree_settings(TreeConfig()) == ([2, 4], 600)
    assert tree_settings(TreeConfig(preset="spo_paper")) == ([6, 6, 6], 600)
    assert tree_settings(TreeConfig(branching=[3], segment_tokens=8)) == ([3], 8)
    with pytest.raises(ValueError, match="known"):
        tree_settings(TreeConfig(preset="big"))
    with pytest.raises(ValueError, match=">= 1"):
        tree_settings(TreeConfig(branching=[2, 0]))


def test_segment_ends_at_the_first_thought_boundary_past_the_budget():
    r = Rollout(task=None, prompt_ids=[1], segments=[[1] * 3, [1] * 4, [1] * 5])
    assert [segment_end(r, 0, s) for s in (1, 3, 4, 7, 8, 100)] == [1, 1, 2, 2, 3, 3]
    assert segment_end(r, 1, 4) == 2 and segment_end(r, 2, 1) == 3


def test_known_tree_values_and_segment_advantages(tok):
    # branching [2, 2], each first segment = thought 1: V(a0) = mean(R, W) = 0.5, V(a1) = 1
    buf, backend = build(tok, {"a0": "RW", "a1": "RR"}, branching=[2, 2], segment_tokens=1)
    (p,) = buf.prompts
    top, under_a0, under_a1 = p.groups
    assert [r.thoughts[0] for r in top.rollouts] == ["a0" + STOP, "a1" + STOP]
    assert top.rewards == [0.5, 1.0] and top.advantages == [-0.25, 0.25]
    assert under_a0.rewards == [1.0, 0.0] and under_a0.advantages == [0.5, -0.5]
    assert under_a1.rewards == [1.0, 1.0] and under_a1.advantages == [0.0, 0.0]
    # a node trains only its own segment: the first level thought 1, the leaves thoughts 2-3
    assert all(r.prefix_len == 0 and r.n_thoughts == 1 and not r.done for r in top.rollouts)
    assert all(r.prefix_len == 1 and r.n_thoughts == 3 and r.done for g in (under_a0, under_a1) for r in g.rollouts)
    assert all(len(r.seg_logprobs) == r.n_thoughts for g in p.groups for r in g.rollouts)  # cut alike
    # the leaves under a node share its stored thought-1 ids (token-exact continuation)
    assert all(r.segments[0] == top.rollouts[0].segments[0] for r in under_a0.rollouts)
    # generation: 2 fresh draws at once, then 1 new continuation per branch point (2 prefixes)
    assert (len(backend.calls[0]["prefixes"]), backend.calls[0]["n"]) == (1, 2)
    branch = [c for c in backend.calls if c["n"] == 1 and len(c["prefixes"]) == 2][0]
    assert [len(x) for x in branch["prefixes"]] == [len(top.rollouts[0].sequence())] * 2
    row = step_metrics(1, buf, UpdateResult(0.0, 0.0, False, 6, 6, 0), {})
    assert row["pass_rate"] == 1.0 and row["tokens_seed_search"] == 0  # the 2 fresh episodes: R, R
    assert row["tree_leaves"] == [4] and row["rollouts_trained"] == 6
    # every generated token is trained exactly once: 2 first thoughts + 4 leaf tails
    first_tok = sum(len(r.segments[0]) for r in top.rollouts)
    tails = sum(len(s) for g in (under_a0, under_a1) for r in g.rollouts for s in r.segments[1:])
    assert row["tokens_trained"] == first_tok + tails


def test_an_episode_ending_inside_a_segment_is_a_leaf(tok):
    # one level of 600-token segments never cut a 3-thought episode: 2 leaves, no branching
    buf, backend = build(tok, {"a0": "R", "a1": "W"}, branching=[2, 4])
    (g,) = buf.prompts[0].groups
    assert g.rewards == [1.0, 0.0] and g.advantages == [0.5, -0.5]
    assert all(r.done and r.prefix_len == 0 for r in g.rollouts)
    assert len(backend.calls) == 3  # one call per thought of the two draws, nothing else
