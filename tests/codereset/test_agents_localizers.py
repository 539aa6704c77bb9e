"""The localizer registry: every reset agent is a default localizer, any localizer serves any
reset agent, and the entropy localizer resets at the least sure thought (known log-probs)."""

import random

import pytest
from scripted_policy import STOP, byte_tokenizer, make_task

from codereset.agents import AGENTS, AgentContext, arm_label, make_agent
from codereset.agents.localizers import LOCALIZERS, get_localizer, thought_surprisals
from codereset.config import AgentConfig
from codereset.rollouts.rollout import Rollout
from envs.rules import ThoughtRules
from envs.tasks import load_suite

RULES = ThoughtRules()


def seed_with_logprobs(thoughts, logprobs, task=None):
    tok = byte_tokenizer()
    segs = [tok(t, add_special_tokens=False)["input_ids"][: len(lp)] for t, lp in zip(thoughts, logprobs)]
    return Rollout(task=task or make_task(0), prompt_ids=[1, 2, 3], segments=segs, texts=list(thoughts),
                   status="terminated", seg_logprobs=[list(lp) for lp in logprobs])


def make(name, localizer=None, rng=None):
    cfg = AgentConfig(name=name, localizer=localizer)
    return make_agent(name, cfg, AgentContext(None, RULES, rng or random.Random(0)))


def test_registry_lists_the_four_localizers_and_refuses_unknown_names():
    assert sorted(LOCALIZERS) == ["entropy", "oracle", "self", "uniform"]
    with pytest.raises(ValueError, match=r"known localizers: \['entropy', 'oracle', 'self', 'uniform'\]"):
        get_localizer("attention")
    with pytest.raises(ValueError, match="unknown localizer"):
        make("rrpo", localizer="attention")


def test_each_reset_agent_is_its_default_localizer():
    assert {n: AGENTS[n].default_localizer for n in ("rrpo", "srpo", "caro", "entropy")} == {
        "rrpo": "uniform", "srpo": "self", "caro": "oracle", "entropy": "entropy"}
    assert make("caro").localizer.name == "oracle"
    assert make("caro", localizer="entropy").localizer.name == "entropy"


def test_a_localizer_on_an_agent_that_never_resets_is_refused():
    with pytest.raises(ValueError, match="grpo.*does not reset"):
        make("grpo", localizer="uniform")


def test_entropy_resets_at_the_highest_mean_surprisal():
    # mean -log p per thought: 0.1, 1.5, 0.5 -> thought 2 (h* = 2 keeps thought 1)
    seed = seed_with_logprobs(["a1" + STOP, "b22" + STOP, "c3" + STOP],
                              [[-0.1, -0.1], [-1.0, -2.0, -1.5], [-0.5, -0.5]])
    assert [round(s, 6) for s in thought_surprisals(seed)] == [0.1, 1.5, 0.5]
    choice = make("entropy").choose_resets([seed])[0]
    assert choice.h == 2 and choice.localized and choice.localization_tokens == 0
    assert choice.info["thought_surprisal"] == [0.1, 1.5, 0.5]


def test_entropy_ties_go_to_the_earliest_thought_and_one_thought_seeds_reset_at_the_prompt():
    tie = seed_with_logprobs(["a" + STOP, "b" + STOP, "c" + STOP], [[-0.2], [-0.7], [-0.7]])
    one = seed_with_logprobs(["a" + STOP], [[-3.0]])
    a, b = make("entropy").choose_resets([tie, one])
    assert a.h == 2
    assert b.h == 1 and not b.localized and b.info == {"localizer_skipped": True}


def test_entropy_needs_the_samplers_logprobs():
    seed = seed_with_logprobs(["a" + STOP, "b" + STOP], [[-0.1], [-0.2]])
    seed.seg_logprobs[1] = None
    with pytest.raises(ValueError, match="needs the sampler's log-probs"):
        make("entropy").choose_resets([seed])


def test_oracle_localizer_on_rrpo_matches_caro():
    task = load_suite("chain", "val", n=1, critical_depth=3)[0]
    thoughts = list(task.reference)
    thoughts[2] = thoughts[2].rsplit(" = ", 1)[0] + " = 1.</thought>"
    seed = seed_with_logprobs(thoughts, [[-0.1]] * len(thoughts), task=task)
    assert make("rrpo", localizer="oracle").choose_resets([seed])[0].h == 3
    assert make("caro").choose_resets([seed])[0].h == 3


def test_arm_labels_name_agent_localizer_and_split():
    assert arm_label("grpo", None, "1x4") == "grpo"
    assert arm_label("caro", None, "1x8") == "caro-1x8"
    assert arm_label("caro", "oracle", "1x4") == "caro"          # method.md's split is left out
    assert arm_label("srpo", "entropy", "1x8") == "srpo[entropy]-1x8"
    assert arm_label("critique_grpo", None, "1x4") == "critique_grpo"
    assert len({arm_label("caro", None, s) for s in ("1x4", "1x8", "2x4")}) == 3
    assert arm_label("entropy", None, "1x8") == "entropy-1x8"


def test_every_detail_a_localizer_records_is_declared_for_samples_jsonl():
    from codereset.run.schema import SAMPLE_GROUP

    declared = set(SAMPLE_GROUP.names(("reset", "oracle", "mc_oracle")))
    seed = seed_with_logprobs(["a1" + STOP, "b22" + STOP], [[-0.1, -0.1], [-1.0, -2.0]])
    task = load_suite("chain", "val", n=1, critical_depth=2)[0]
    oracle_seed = seed_with_logprobs(list(task.reference), [[-0.1]] * len(task.reference), task=task)
    for name, seeds in (("entropy", [seed]), ("rrpo", [seed]), ("caro", [oracle_seed])):
        for choice in make(name).choose_resets(seeds):
            assert set(choice.info) <= declared, (name, set(choice.info) - declared)
