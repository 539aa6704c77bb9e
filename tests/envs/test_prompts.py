"""Prompt rendering: one worked example in the thought format, chat template or plain text."""

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from envs.prompts import PROMPT_STYLES, build_messages, render_prompt
from envs.rules import ThoughtRules
from envs.transition import status
from envs.tasks import load_suite

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def chat_tokenizer():
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    tok.chat_template = CHATML
    return tok


@pytest.fixture(scope="module")
def math_task():
    return load_suite("arith", "train", n=1)[0]


def test_messages_have_instruction_example_and_problem(math_task):
    msgs = build_messages(math_task)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert "</thought>" in msgs[0]["content"]
    assert msgs[-1]["content"] == math_task.problem
    rules = ThoughtRules()
    example = rules.split(msgs[2]["content"])
    assert len(example) == 3 and status(rules, "math", example) == "terminated"
    assert [m["role"] for m in build_messages(math_task, fewshot=False)] == ["system", "user"]


def test_every_style_example_is_in_thought_format():
    rules = ThoughtRules()
    for name, style in PROMPT_STYLES.items():
        thoughts = tuple(t.format(stop=rules.stop) for t in style.example_thoughts)
        kind = "math" if name == "math" else "code"
        assert rules.split("".join(thoughts)) == thoughts
        assert status(rules, kind, thoughts) == "terminated"
        assert status(rules, kind, thoughts[:-1]) == "continue"


def test_custom_stop_reaches_instruction_and_example(math_task):
    msgs = build_messages(math_task, rules=ThoughtRules(stop="<END>"))
    assert "<END>" in msgs[0]["content"] and msgs[2]["content"].count("<END>") == 3
    assert "</thought>" not in "".join(m["content"] for m in msgs)


def test_plain_text_format(math_task):
    text = render_prompt(math_task)
    assert text.startswith("### System\n")
    assert text.endswith(f"### User\n{math_task.problem}\n\n### Assistant\n")
    assert text.count("### Assistant\n") == 2


def test_chat_template(math_task, chat_tokenizer):
    text = render_prompt(math_task, tokenizer=chat_tokenizer)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith(f"<|im_start|>user\n{math_task.problem}<|im_end|>\n<|im_start|>assistant\n")
    assert text.count("<|im_start|>assistant\n") == 2


@pytest.mark.parametrize("suite,style", [("basic", "function"), ("stdio", "stdio"), ("humaneval", "function")])
def test_code_suites_get_their_worked_example(suite, style):
    from envs.prompts import prompt_style

    task = load_suite(suite, "test", n=1)[0]
    assert prompt_style(task) == style
    msgs = build_messages(task)
    assert msgs[1]["content"] == PROMPT_STYLES[style].example_problem
    assert msgs[-1]["content"] == task.problem
    assert "```python" in msgs[2]["content"]
