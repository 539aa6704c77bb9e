"""CARO's oracle choice: exact where the suite has step-level truth, Monte-Carlo values otherwise
(agent.oracle=auto|exact|mc); the MC first error on a scripted value curve."""

import random

import pytest
from scripted_policy import MarkerVerifier, ScriptedBackend, byte_tokenizer, make_task
from rollouts.test_values import SEED, ValueCurvePolicy, seed_rollout  # tests/codereset/rollouts (namespace)

from codereset.agents import AgentContext, make_agent
from codereset.config import AgentConfig, ValuesConfig
from codereset.rollouts.rollout import Roller
from envs.rules import ThoughtRules
from envs.tasks import load_suite

RULES = ThoughtRules()


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def caro(backend, oracle="auto", **values):
    cfg = AgentConfig(name="caro", oracle=oracle, values=ValuesConfig(**values))
    agent = make_agent("caro", cfg, AgentContext(backend, RULES, random.Random(0)))
    roller, verifier = Roller(backend, RULES), MarkerVerifier()
    agent.attach(roller, verifier)
    return agent, roller, verifier


def test_mc_oracle_resets_at_the_first_value_drop(tok):
    backend = ScriptedBackend(tok, ValueCurvePolicy([6, 4, 0]))   # V = 0.75, 0.5, 0, reward 0
    agent, roller, verifier = caro(backend, k=8, drop_threshold=0.25)
    seed = seed_rollout(roller, make_task(0), tok, SEED, verifier)
    (choice,) = agent.choose_resets([seed])
    assert choice.h == 2 and choice.info["oracle"] == "mc" and choice.info["oracle_found_error"]
    assert choice.info["mc_values"] == [0.75, 0.5, 0.0, 0.0] and choice.localization_tokens > 0
    agent, roller, verifier = caro(backend, k=8, drop_threshold=0.2)
    (choice,) = agent.choose_resets([seed_rollout(roller, make_task(0), tok, SEED, verifier)])
    assert choice.h == 1


def test_no_drop_redraws_the_last_thought(tok):
    backend = ScriptedBackend(tok, ValueCurvePolicy([0, 0, 0]))
    agent, roller, verifier = caro(backend, k=4)
    (choice,) = agent.choose_resets([seed_rollout(roller, make_task(0), tok, SEED, verifier)])
    assert choice.h == 3 and not choice.info["oracle_found_error"]


def test_auto_uses_the_exact_oracle_where_the_suite_has_one(tok):
    task = load_suite("arith", "train")[0]
    backend = ScriptedBackend(tok, ValueCurvePolicy([0, 0, 0]))
    agent, roller, verifier = caro(backend)
    thoughts = [f"{task.step_values[0]} = 999999</thought>", "done</thought>"]
    seed = seed_rollout(roller, task, tok, thoughts, verifier)
    (choice,) = agent.choose_resets([seed])
    assert choice.info["oracle"] == "exact" and choice.h == 1 and backend.calls == []
    agent_mc, roller, verifier = caro(backend, oracle="mc", k=2)
    (choice,) = agent_mc.choose_resets([seed_rollout(roller, task, tok, thoughts, verifier)])
    assert choice.info["oracle"] == "mc" and backend.calls


def test_exact_on_a_suite_without_one_fails_clearly(tok):
    backend = ScriptedBackend(tok, ValueCurvePolicy([0, 0, 0]))
    agent, _, _ = caro(backend, oracle="exact")
    with pytest.raises(ValueError, match="agent.oracle=mc"):
        agent.check_tasks([make_task(0)])
    caro(backend, oracle="auto")[0].check_tasks([make_task(0)])
    with pytest.raises(ValueError, match="known"):
        caro(backend, oracle="magic")
