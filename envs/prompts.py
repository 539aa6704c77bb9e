"""Prompt rendering: system instruction + one worked example + the problem, chat-template aware.

A small instruct model does not follow the thought format from an instruction alone; one worked
example shown as a previous user/assistant turn is enough (measured in default-model.md). Each
prompt *style* has its own instruction and example:

  * ``function`` - code tasks graded by calling a function (CallTests / AssertTests);
  * ``stdio``    - code tasks graded on standard input/output (StdioTests);
  * ``math``     - math tasks answered in ``\\boxed{}``.

The generated thoughts follow the rendered prompt text directly.

Plain-text format (used when no tokenizer, or one without a chat template, is given)::

    ### System
    <instruction>

    ### User
    <example problem>

    ### Assistant
    <example thoughts>

    ### User
    <problem>

    ### Assistant
    <- generation starts here
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.rules import ThoughtRules
from envs.tasks.task import Task


@dataclass(frozen=True)
class PromptStyle:
    """Instruction and worked example of one prompt style.

    Attributes:
        system: the system instruction; ``{stop}`` stands for the stop pattern.
        example_problem: the worked example's problem (a previous user turn).
        example_thoughts: the worked example's thoughts; each ends with ``{stop}``.
    """

    system: str
    example_problem: str
    example_thoughts: tuple[str, ...]


_CODE_RULES = (
    "Think step by step. Write each step as one short thought and end every thought with {stop}. "
    "In your last thought, give the complete solution as one ```python code block, then {stop}."
)

PROMPT_STYLES: dict[str, PromptStyle] = {
    "function": PromptStyle(
        system="You are a careful Python programmer. " + _CODE_RULES,
        example_problem=(
            "Write a Python function `sum_of_squares(numbers)` that returns the sum of the squares "
            "of the integers in the list `numbers`.\nExample: sum_of_squares([1, 2, 3]) == 14"
        ),
        example_thoughts=(
            "I need to square every number and add the squares up.{stop}",
            "\nI start a total at 0 and add n * n for each n in the list.{stop}",
            "\n```python\ndef sum_of_squares(numbers):\n    total = 0\n    for n in numbers:\n"
            "        total += n * n\n    return total\n```{stop}",
        ),
    ),
    "stdio": PromptStyle(
        system=("You are a careful Python programmer. Your program reads standard input and "
                "writes standard output. " + _CODE_RULES),
        example_problem=(
            "The first line holds an integer n; the second line holds n integers. "
            "Print how many of them are negative.\n\nExample input:\n    4\n    3 -1 0 -7\n"
            "Example output:\n    2"
        ),
        example_thoughts=(
            "I read n, then the n integers from the second line.{stop}",
            "\nI count the numbers below zero and print the count.{stop}",
            "\n```python\nimport sys\n\ndata = sys.stdin.read().split()\nn = int(data[0])\n"
            "numbers = [int(x) for x in data[1:1 + n]]\nprint(sum(1 for x in numbers if x < 0))\n```{stop}",
        ),
    ),
    "math": PromptStyle(
        system=("Solve the problem step by step. Write each step as one short thought and end "
                "every thought with {stop}. Put the final answer in \\boxed{{}} in your last thought."),
        example_problem=("Lily has 15 pens. She buys 3 boxes with 4 pens in each box. Then she "
                         "gives 6 pens to her brother. How many pens does Lily have now?"),
        example_thoughts=(
            "The boxes hold 3 * 4 = 12 pens.{stop}",
            "\nAfter buying them Lily has 15 + 12 = 27 pens.{stop}",
            "\nShe gives away 6: 27 - 6 = 21. The answer is \\boxed{{21}}.{stop}",
        ),
    ),
}


def prompt_style(task: Task) -> str:
    """The prompt style of a task: math tasks "math"; code tasks "stdio" when graded on
    standard input/output, "function" otherwise."""
    if task.kind == "math":
        return "math"
    from sandboxes import StdioTests

    return "stdio" if isinstance(task.tests, StdioTests) else "function"


def build_messages(task: Task, fewshot: bool = True, rules: ThoughtRules = ThoughtRules()) -> list[dict[str, str]]:
    """Chat messages: system instruction, (with `fewshot`) the worked example as a previous
    user/assistant turn, then the task's problem as the last user turn."""
    style = PROMPT_STYLES[prompt_style(task)]
    fill = {"stop": rules.stop}
    messages = [{"role": "system", "content": style.system.format(**fill)}]
    if fewshot:
        messages.append({"role": "user", "content": style.example_problem})
        messages.append({"role": "assistant",
                         "content": "".join(t.format(**fill) for t in style.example_thoughts)})
    messages.append({"role": "user", "content": task.problem})
    return messages


def render_messages(messages: list[dict[str, str]], tokenizer: Any = None) -> str:
    """Prompt text for `messages`: the tokenizer's chat template when it has one (with the
    generation prompt added), else the plain-text format of this module's docstring."""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    parts = [f"### {m['role'].capitalize()}\n{m['content']}\n\n" for m in messages]
    return "".join(parts) + "### Assistant\n"


def render_prompt(task: Task, tokenizer: Any = None, fewshot: bool = True,
                  rules: ThoughtRules = ThoughtRules()) -> str:
    """The prompt text the thoughts of `task` follow (see `build_messages`, `render_messages`)."""
    return render_messages(build_messages(task, fewshot=fewshot, rules=rules), tokenizer)
