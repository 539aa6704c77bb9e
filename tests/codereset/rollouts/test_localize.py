"""SRPO's localization prompt: rendering, lenient parsing (garbage included) and the fallback."""

import random

import pytest
from scripted_policy import STOP, byte_tokenizer, make_task

from codereset.rollouts.localize import (
    EXAMPLES,
    FALLBACKS,
    build_messages,
    get_fallback,
    parse_step,
    resolve,
)
from envs.prompts import render_messages

THOUGHTS = ("I add the numbers." + STOP, "\nThe sum is 7." + STOP, "\n```python\nx = 7\n```" + STOP)


def test_l2_prompt_shows_numbered_steps_without_stop_and_hides_the_answer():
    task = make_task(3)
    msgs = build_messages(task, THOUGHTS, variant="L2")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    last = msgs[-1]["content"]
    assert "Problem number 3: solve it." in last
    assert "Step 1: I add the numbers.\nStep 2: The sum is 7.\nStep 3: ```python\nx = 7\n```" in last
    assert STOP not in last
    assert "WRONG" in last and "\\boxed{N}" in last and "Do not solve the problem again" in last
    assert "Correct final answer" not in last
    # the worked example answers in the requested format
    assert msgs[2]["content"].endswith("\\boxed{2}")
    assert msgs[1]["content"].count("Step ") == len(EXAMPLES["code"].steps)


def test_l1_prompt_shows_the_reference_answer():
    task = make_task(1)
    last = build_messages(task, THOUGHTS, variant="L1")[-1]["content"]
    assert "Correct final answer" in last
    assert "ANSWER = 'RIGHT'" in last


def test_math_tasks_get_the_math_example_and_no_example_on_request():
    task = make_task(2, kind="math")
    msgs = build_messages(task, THOUGHTS, variant="L1")
    assert EXAMPLES["math"].problem in msgs[1]["content"]
    assert "Correct final answer (for reference; do not explain how to get it):\n1" in msgs[-1]["content"]
    assert [m["role"] for m in build_messages(task, THOUGHTS, worked_example=False)] == ["system", "user"]


def test_unknown_variant_lists_known():
    with pytest.raises(ValueError, match=r"known: \['L1', 'L2'\]"):
        build_messages(make_task(0), THOUGHTS, variant="L3")


def test_render_uses_the_chat_template_with_generation_prompt():
    tok = byte_tokenizer()
    text = render_messages(build_messages(make_task(0), THOUGHTS), tok)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("<|im_start|>assistant\n")
    assert text.count("<|im_start|>user\n") == 2


def test_render_without_chat_template_is_the_env_prompts_plain_text():
    """One chat renderer for task prompts and localization prompts (envs.prompts)."""
    class Plain:
        chat_template = None

    text = render_messages([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], Plain())
    assert text == "### System\nS\n\n### User\nU\n\n### Assistant\n"


@pytest.mark.parametrize("answer, expected", [
    ("Step 2 is wrong because...\n\\boxed{2}", (2, "boxed")),
    ("\\boxed{Step 3}", (3, "boxed")),
    ("I think \\boxed{1} then no, \\boxed{4}", (4, "boxed")),          # the last box wins
    ("The first wrong step is step 1, because it adds.", (1, "phrase")),
    ("Step 1 is correct. Step 2 is wrong: it subtracts.", (2, "phrase")),
    ("The error originates in Step #3.", (3, "phrase")),
    ("Looking at step 4 and step 5 carefully.", (4, "step")),
    (" 2. ", (2, "number")),
    ("\\boxed{two} but step 3 has the mistake", (3, "phrase")),    # no digit in the box
    ("I cannot tell.", (None, None)),
    ("Step 1: I need the vowels.\nStep 2: I count them.", (None, None)),   # an echo, no answer
    ("Step 1: max raises a ValueError on an empty list.", (None, None)),   # not an error claim
    ("Step 1: fine.\nThe mistake is in step 2.", (2, "phrase")),
    ("", (None, None)),
    ("\\boxed{} ??? 12345abc", (None, None)),
])
def test_parse_step_known_answers(answer, expected):
    assert parse_step(answer) == expected


def test_resolve_uses_the_answer_when_in_range():
    loc = resolve("\\boxed{2}", n=3, fallback="uniform", rng=random.Random(0))
    assert (loc.h, loc.parsed, loc.rule, loc.failed) == (2, 2, "boxed", False)


@pytest.mark.parametrize("answer", ["\\boxed{7}", "\\boxed{0}", "no idea", "step -1"])
def test_garbage_or_out_of_range_falls_back_and_is_counted(answer):
    assert resolve(answer, n=3, fallback="last", rng=random.Random(0)).h == 3
    assert resolve(answer, n=3, fallback="first", rng=random.Random(0)).h == 1
    loc = resolve(answer, n=3, fallback="uniform", rng=random.Random(0))
    assert loc.failed and 1 <= loc.h <= 3


def test_uniform_fallback_covers_the_range():
    rng = random.Random(1)
    assert {FALLBACKS["uniform"](4, rng) for _ in range(200)} == {1, 2, 3, 4}


def test_unknown_fallback_lists_known():
    with pytest.raises(ValueError, match=r"known: \['first', 'last', 'uniform'\]"):
        get_fallback("median")
