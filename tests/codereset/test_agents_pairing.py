"""Pairing of the agents that build their own groups (`BufferBuilder.build(seed=...)`,
`BufferBuilder.first_draws`): with one seed, GRPO and Critique-GRPO / SCoRe / SPO-tree / VinePPO
make the same seeded generate call (same fresh prompts, `paired` rows each, same seed), so on a
real sampler their first draws are the same token ids; without a seed nothing is seeded."""

import random

import pytest
from scripted_policy import MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

from codereset.agents import AgentContext, make_agent
from codereset.rollouts.buffer import BufferBuilder
from codereset.config import AgentConfig, BufferConfig, TreeConfig, ValuesConfig
from codereset.run.metrics import step_metrics
from codereset.rollouts.rollout import Roller
from codereset.learn.update import UpdateResult, assign_advantages
from envs.rules import ThoughtRules

OWN = ("critique_grpo", "score", "spo_tree", "vineppo")
P = "Problem number {}: solve it."


def agent_config(name, **tree):
    return AgentConfig(name=name, values=ValuesConfig(k=1), tree=TreeConfig(**tree))


def scripted_build(tok, name, seed, plan="RWRW" + "W" * 12, n_tasks=2, **tree):
    backend = ScriptedBackend(tok, PlannedPolicy({P.format(i): plan for i in range(n_tasks)}))
    agent = make_agent(name, agent_config(name, **tree), AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, ThoughtRules()), MarkerVerifier())
    return builder.build([make_task(i) for i in range(n_tasks)], seed=seed), backend


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def seeded_calls(backend):
    return [(c["prefixes"], c["n"], c["sampling"].seed) for c in backend.calls if c["sampling"].seed is not None]


@pytest.mark.parametrize("name", OWN)
def test_every_agent_makes_grpos_seeded_call_and_nothing_else_is_seeded(tok, name):
    _, grpo = scripted_build(tok, "grpo", seed=7)
    _, other = scripted_build(tok, name, seed=7)
    calls = seeded_calls(grpo)
    # the thought-by-thought roller: the prompts' first thoughts (4 rows each), then each row
    assert calls[0][1:] == (4, 7) and len(calls[0][0]) == 2
    assert seeded_calls(other) == calls
    _, unpaired = scripted_build(tok, name, seed=None)
    assert seeded_calls(unpaired) == []


def test_spo_trees_first_level_below_the_paired_count_keeps_the_rest_as_an_untrained_probe(tok):
    # release preset: 2 first-level episodes, paired 4 (split 1x4): 2 more drawn, untrained
    buf, _ = scripted_build(tok, "spo_tree", seed=7, plan="RWRW", n_tasks=1)
    (p,) = buf.prompts
    assert len(p.pass_sample) == 4 and [r.correct for r in p.pass_sample] == [True, False, True, False]
    assert [r.kind for r in p.draws] == ["seed_search"] * 2 and p.untrained_draws() == p.draws
    assert sum(len(g.rollouts) for g in p.groups) == 2            # no branching: 2 whole-episode leaves
    assign_advantages(buf.groups, "group_norm")
    row = step_metrics(1, buf, UpdateResult(0.0, 0.0, False, 2, 2, 0), {})
    assert row["tokens_seed_search"] == sum(r.generated_tokens for r in p.draws) > 0
    assert row["pass_rate"] == 0.5
    unpaired, _ = scripted_build(tok, "spo_tree", seed=None, plan="RWRW", n_tasks=1)
    assert unpaired.prompts[0].draws == [] and len(unpaired.prompts[0].pass_sample) == 2


def test_a_first_level_above_the_paired_count_draws_the_rest_from_the_running_stream(tok):
    buf, backend = scripted_build(tok, "spo_tree", seed=7, n_tasks=1, branching=[6])
    (p,) = buf.prompts
    assert len(p.pass_sample) == 6 and p.draws == []
    assert [(c["n"], c["sampling"].seed) for c in backend.calls if c["n"] > 1] == [(4, 7), (2, None)]


def test_paired_count_is_the_base_group_or_probe_and_at_most_the_slots(tok):
    def paired(**kw):
        backend = ScriptedBackend(tok, PlannedPolicy({}))
        agent = make_agent("grpo", AgentConfig(name="grpo"), AgentContext(backend, ThoughtRules(), random.Random(0)))
        return BufferBuilder(BufferConfig(**kw), agent, Roller(backend, ThoughtRules()), MarkerVerifier()).paired

    assert paired() == 4 and paired(split="2x2") == 4 and paired(split="2x4") == 4   # probe_size 4
    assert paired(split="2x4", probe_size=16) == 8                               # capped at slots


@pytest.fixture(scope="module")
def tiny():
    from codereset.models import ModelConfig, load_model

    return load_model(ModelConfig(name="tiny", device="cpu"))


def first_draw_ids(tiny, name, seed):
    """Token ids of the first 4 fresh draws of each of 2 prompts (the pass-rate sample's head)."""
    from codereset.generation.hf import HFBackend

    model, tk = tiny
    rules = ThoughtRules(max_thoughts=2, max_thought_tokens=6)
    backend = HFBackend(model, tk)
    agent = make_agent(name, agent_config(name), AgentContext(backend, rules, random.Random(0)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, rules, mode="continuous"), MarkerVerifier(rules))
    buf = builder.build([make_task(i) for i in range(2)], seed=seed)
    return [[r.segments for r in p.pass_sample[:4]] for p in buf.prompts]


def test_on_a_real_sampler_every_agent_starts_from_grpos_first_draws(tiny):
    grpo = first_draw_ids(tiny, "grpo", seed=11)
    assert len({str(d) for p in grpo for d in p}) > 1              # a real sample, not one repeated draw
    for name in OWN:
        assert first_draw_ids(tiny, name, seed=11) == grpo, name
    assert first_draw_ids(tiny, "score", seed=12) != grpo          # another seed, other draws
