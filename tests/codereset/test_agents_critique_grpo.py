"""Critique-GRPO's group with the scripted policy: 7 originals + 1 refinement of the first failed
original, the critique prompt (binary and reference variants), token-exact conditioning."""

import random

import pytest
from scripted_policy import MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

from codereset.agents import AgentContext, make_agent
from codereset.agents.critique_grpo import critique_message
from codereset.rollouts.buffer import BufferBuilder
from codereset.config import AgentConfig, BufferConfig, CritiqueConfig
from codereset.run.metrics import step_metrics
from codereset.rollouts.rollout import Roller
from codereset.learn.update import UpdateResult, assign_advantages
from envs.rules import ThoughtRules

P0 = "Problem number 0: solve it."
BINARY = critique_message(make_task(0), "binary")


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def build(tok, plan, variant="binary", tasks=None):
    # the scripted policy reads the last user turn as "the problem": a refinement's is its critique
    backend = ScriptedBackend(tok, PlannedPolicy(plan))
    cfg = AgentConfig(name="critique_grpo", critique=CritiqueConfig(variant=variant))
    agent = make_agent("critique_grpo", cfg, AgentContext(backend, ThoughtRules(), random.Random(0)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, ThoughtRules()), MarkerVerifier())
    return builder.build(tasks or [make_task(0)]), backend


def test_critique_texts():
    assert BINARY.startswith("Your final answer is incorrect.") and "correct answer" not in BINARY
    math = make_task(0, kind="math")
    ref = critique_message(math, "reference")
    assert "The correct answer is 1." in ref
    with pytest.raises(ValueError, match="no.*variant=binary|has none"):
        critique_message(make_task(0), "reference")  # a code task carries no reference answer
    with pytest.raises(ValueError, match="known"):
        critique_message(math, "gpt")


def test_one_refinement_of_the_first_failure_joins_seven_originals(tok):
    buf, backend = build(tok, {P0: "RRWRWRR", BINARY: "R"})
    (p,) = buf.prompts
    (g,) = p.groups
    originals, refinement = g.rollouts[:7], g.rollouts[7]
    assert len(g.rollouts) == 8 and [r.kind for r in g.rollouts] == ["base"] * 7 + ["refinement"]
    assert [r.correct for r in originals] == [True, True, False, True, False, True, True]
    failed = originals[2]
    # the refinement continues the failed attempt's stored ids, then the critique turn
    assert refinement.prompt_ids[: len(failed.prefix_ids())] == failed.prefix_ids()
    turn = tok.decode(refinement.prompt_ids[len(failed.prefix_ids()):])
    assert turn == f"<|im_end|>\n<|im_start|>user\n{BINARY}<|im_end|>\n<|im_start|>assistant\n"
    assert refinement.correct and refinement.trained_from == len(refinement.prompt_ids)
    assert p.pass_sample == originals and p.untrained_draws() == []
    assign_advantages(buf.groups, "group_norm")     # one group, normalized together
    assert g.advantages[2] == g.advantages[4] < 0 < g.advantages[7] == g.advantages[0]
    row = step_metrics(1, buf, UpdateResult(0.0, 0.0, False, 8, 8, 0), {})
    assert row["tokens_trained_refinement"] == refinement.generated_tokens
    assert row["refinement_correct"] == [1.0] and row["pass_rate"] == 5 / 7
    assert row["tokens_generated"] == row["tokens_trained"]


def test_no_failure_fills_the_slot_with_a_fresh_rollout(tok):
    buf, backend = build(tok, {P0: "RRRRRRR" + "W"})
    (g,) = buf.prompts[0].groups
    assert [r.kind for r in g.rollouts] == ["base"] * 8 and g.rewards == [1.0] * 7 + [0.0]
    assert buf.prompts[0].diagnostics == {"refinement_correct": []}


def test_reference_variant_needs_answers(tok):
    backend = ScriptedBackend(tok, PlannedPolicy({}))
    cfg = AgentConfig(name="critique_grpo", critique=CritiqueConfig(variant="reference"))
    agent = make_agent("critique_grpo", cfg, AgentContext(backend, ThoughtRules(), random.Random(0)))
    agent.check_tasks([make_task(0, kind="math")])
    with pytest.raises(ValueError, match="reference answer"):
        agent.check_tasks([make_task(0)])
    with pytest.raises(ValueError, match="known"):
        make_agent("critique_grpo", AgentConfig(name="critique_grpo", critique=CritiqueConfig(variant="x")),
                   AgentContext(backend, ThoughtRules(), random.Random(0)))
