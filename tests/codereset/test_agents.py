"""Agents only choose reset indices: GRPO none, RRPO uniform, SRPO self-localization, CARO oracle."""

import random

import pytest
from scripted_policy import STOP, ScriptedBackend, byte_tokenizer, make_task

from codereset.agents import AGENTS, AgentContext, agent_class, make_agent
from codereset.config import AgentConfig, LocalizeConfig
from codereset.rollouts.rollout import Rollout
from envs.rules import ThoughtRules
from envs.tasks import load_suite

RULES = ThoughtRules()


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def seed_of(task, thoughts, tok):
    segs = [tok(t, add_special_tokens=False)["input_ids"] for t in thoughts]
    return Rollout(task=task, prompt_ids=[1, 2, 3], segments=segs, texts=list(thoughts), status="terminated")


def agent(name, backend=None, rng=None, **localize):
    cfg = AgentConfig(name=name, localize=LocalizeConfig(**localize))
    return make_agent(name, cfg, AgentContext(backend, RULES, rng or random.Random(0)))


def test_registry_and_unknown_names():
    assert sorted(AGENTS) == ["caro", "critique_grpo", "entropy", "grpo", "rrpo", "score", "spo_tree", "srpo",
                              "vineppo"]
    with pytest.raises(ValueError, match=r"known agents: \['caro', 'critique_grpo', 'entropy', 'grpo', "):
        agent_class("ppo")
    assert not agent_class("grpo").uses_resets
    assert all(agent_class(n).uses_resets for n in ("rrpo", "srpo", "caro", "entropy"))


def test_grpo_never_resets(tok):
    a = agent("grpo")
    assert a.choose_resets([]) == []
    with pytest.raises(ValueError, match="never resets"):
        a.choose_resets([seed_of(make_task(0), ["a" + STOP], tok)])


def test_rrpo_is_uniform_over_1_to_n(tok):
    seed = seed_of(make_task(0), ["a" + STOP, "b" + STOP, "c" + STOP], tok)
    a = agent("rrpo", rng=random.Random(3))
    hs = [c.h for c in a.choose_resets([seed] * 600)]
    assert set(hs) == {1, 2, 3}
    assert all(150 < hs.count(h) < 250 for h in (1, 2, 3))


def test_srpo_asks_the_policy_and_uses_its_boxed_answer(tok):
    answers = iter(["The error starts in step 2.\n\\boxed{2}", "no clue at all"])
    backend = ScriptedBackend(tok, lambda text, j: (next(answers), "eos"))
    seeds = [seed_of(make_task(0), ["x = 1" + STOP, "y = 3" + STOP, "```python\nA=1\n```" + STOP], tok),
             seed_of(make_task(1), ["p" + STOP, "q" + STOP], tok)]
    a = agent("srpo", backend, rng=random.Random(0), fallback="last")
    first, second = a.choose_resets(seeds)
    assert (first.h, first.localization_failed) == (2, False)
    assert first.info["localizer_rule"] == "boxed"
    assert (second.h, second.localization_failed) == (2, True)     # fallback "last": n = 2
    assert first.localization_tokens == len(tok("The error starts in step 2.\n\\boxed{2}")["input_ids"])
    call = backend.calls[0]
    assert len(call["prefixes"]) == 2 and call["n"] == 1 and call["stop"] == ()
    assert call["sampling"].temperature == 0.3
    prompt = tok.decode(call["prefixes"][0])
    assert "Step 1: x = 1\nStep 2: y = 3\nStep 3: ```python" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_srpo_answer_prefix_starts_the_turn_and_is_parsed_with_the_answer(tok):
    prefix = "The first erroneous step is Step "
    answers = iter(["2: y is wrong.\nmore prose", ("1", "eos")])
    backend = ScriptedBackend(tok, lambda text, j: next(answers))
    seeds = [seed_of(make_task(0), ["x = 1" + STOP, "y = 3" + STOP, "z" + STOP], tok),
             seed_of(make_task(1), ["p" + STOP, "q" + STOP], tok)]
    a = agent("srpo", backend, rng=random.Random(0), answer_prefix=prefix)
    first, second = a.choose_resets(seeds)
    assert (first.h, first.localization_failed, first.info["localizer_rule"]) == (2, False, "phrase")
    assert first.info["localizer_answer"] == prefix + "2: y is wrong.\n"  # one line: stops at \n
    assert (second.h, second.localization_failed) == (1, False)
    call = backend.calls[0]
    assert call["stop"] == ("\n",)
    assert tok.decode(call["prefixes"][0]).endswith("<|im_start|>assistant\n" + prefix)
    # the question comes after the attempt's steps
    prompt = tok.decode(call["prefixes"][0])
    assert prompt.rindex("Which step is the first erroneous one?") > prompt.rindex("Step 3: z")


def test_srpo_counts_answers_that_hit_the_token_budget(tok):
    backend = ScriptedBackend(tok, lambda text, j: "I will now repeat every step at length " * 10)
    seeds = [seed_of(make_task(0), ["a" + STOP, "b" + STOP], tok)]
    (choice,) = agent("srpo", backend, rng=random.Random(0), max_new_tokens=8).choose_resets(seeds)
    assert choice.localization_budget_out and choice.localization_failed
    assert choice.localization_tokens == 8


def test_srpo_does_not_ask_about_one_thought_seeds(tok):
    answers = iter(["\\boxed{2}"])
    backend = ScriptedBackend(tok, lambda text, j: (next(answers), "eos"))
    seeds = [seed_of(make_task(0), ["```python\nA=1\n```" + STOP], tok),
             seed_of(make_task(1), ["p" + STOP, "q" + STOP], tok)]
    one, two = agent("srpo", backend, rng=random.Random(0)).choose_resets(seeds)
    assert (one.h, one.localized, one.localization_failed, one.localization_tokens) == (1, False, False, 0)
    assert one.info == {"localizer_skipped": True}
    assert (two.h, two.localized, two.localization_failed) == (2, True, False)
    assert len(backend.calls) == 1 and len(backend.calls[0]["prefixes"]) == 1   # only the 2-thought seed


def test_srpo_rejects_unknown_settings():
    with pytest.raises(ValueError, match="known"):
        agent("srpo", fallback="median")
    with pytest.raises(ValueError, match="known"):
        agent("srpo", variant="L9")


def test_caro_resets_at_the_oracle_first_error(tok):
    task = next(t for t in load_suite("arith", split="train") if len(t.reference) >= 3)
    wrong = list(task.reference)
    wrong[1] = "\nThe count is now 12345 + 1 = 777.</thought>"     # a false claim in thought 2
    a = agent("caro")
    a.check_tasks([task])
    (choice,) = a.choose_resets([seed_of(task, wrong, tok)])
    assert choice.h == 2 and choice.info == {"oracle_found_error": True, "oracle": "exact"}
    # no wrong thought found (a failure without false claims): redraw only the last thought
    (clean,) = a.choose_resets([seed_of(task, list(task.reference[:2]), tok)])
    assert clean.h == 2 and clean.info == {"oracle_found_error": False, "oracle": "exact"}


def test_caro_with_the_exact_oracle_needs_tasks_with_one():
    cfg = AgentConfig(name="caro", oracle="exact")
    with pytest.raises(ValueError, match="env=math_arith"):
        make_agent("caro", cfg, AgentContext(None, RULES, random.Random(0))).check_tasks([make_task(0)])
