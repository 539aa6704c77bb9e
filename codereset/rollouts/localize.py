"""SRPO self-localization: ask the policy which thought of a failed rollout first went wrong.

Owns the localization prompt (its messages, with one worked example per task kind; rendered by
the one chat renderer, `envs.prompts.render_messages`), the lenient parser of the model's answer,
and the fallback rule used when the answer cannot be used.

Prompt (method.md, "Self-localization prompt"): chat-formatted; shows the problem and the seed's
thoughts as "Step 1: ...", "Step 2: ..." (the stop pattern removed), says the final answer is
wrong, asks for the *originating* error (the first step whose claims cannot be justified from the
problem and earlier steps; later steps that carry it forward are symptoms), forbids re-solving,
and asks to end with ``\\boxed{N}`` (the question comes after the attempt, where a small model
reads it last). Variant "L2" (default) hides the correct answer; "L1" shows the task's reference
answer (math: the answer; code: the reference solution's last thought). One worked example (a
prior user/assistant turn) comes first, because small models answer in prose without one
(shared/docs/default-model.md); its reply starts with `ANSWER_PREFIX` ("The first erroneous step
is Step "). `LocalizeConfig.answer_prefix` can start the model's own turn with that text, so the
next token is the number and the answer is one line (generation stops at a newline): the main job
does this for SmolLM2-135M, which otherwise echoed the attempt and ran out of tokens in a third of
its answers (`benchmarks/localization_probe.py`). Departure from method.md: the model no longer
chooses how to begin its answer.

Parsing (`parse_step`), first rule that yields a number wins:
  1. "boxed": the first integer inside the last ``\\boxed{...}``;
  2. "phrase": a step named next to an error word ("the first error is in step 3",
     "step 3 is wrong"), earliest in the text;
  3. "step": the first "step N" anywhere, except "Step N:" (the model echoing the listing);
  4. "number": the whole answer is a bare integer.
The number must lie in 1..n (n = thoughts in the seed). Otherwise the answer is a *parse failure*:
counted in the metrics (`localization_parse_failures`) and replaced by the fallback rule
(`LocalizeConfig.fallback`, registry `FALLBACKS`; default "uniform": h* uniform in 1..n, i.e. the
RRPO reset, so a failed localization costs nothing beyond RRPO).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from envs.prompts import render_messages
from envs.rules import DEFAULT_STOP, ThoughtRules

SYSTEM = ("You are a careful grader of step-by-step solutions. You locate the first step that "
          "goes wrong; you never solve the problem yourself.")

INSTRUCTION = (
    "Below is a problem and a step-by-step attempt to solve it. The attempt's final answer is "
    "WRONG.\n"
    "Find the step where the first error ORIGINATES: the first step whose claims cannot be "
    "justified from the problem and the earlier steps. A later step that only carries an earlier "
    "mistake forward is a symptom, not the origin. Do not solve the problem again."
)
# Asked after the attempt, where a small model reads it last; the worked example's reply has this
# shape. SmolLM2-135M given the question only before a long attempt mostly echoed the attempt's
# "Step 1: ..." listing and ran out of tokens (benchmarks/localization_probe.py).
QUESTION = ("Which step is the first erroneous one? Do not repeat the steps. Answer in one short "
            "sentence, then end with \\boxed{N}, where N is the number of that step.")
# What the worked example's reply starts with; `LocalizeConfig.answer_prefix` may put it at the
# start of the model's turn too, so the next token is the step number.
ANSWER_PREFIX = "The first erroneous step is Step "


@dataclass(frozen=True)
class WorkedExample:
    """A localization demonstration: problem, steps, optional correct answer, model reply."""

    problem: str
    steps: tuple[str, ...]
    reference: str
    reply: str


# One worked example per task kind (registry: add a kind here).
EXAMPLES: dict[str, WorkedExample] = {
    "math": WorkedExample(
        problem="Tom has 3 boxes with 4 apples in each box. He eats 2 apples. How many apples "
                "does he have left?",
        steps=("There are 3 boxes with 4 apples each, so he has 3 * 4 = 12 apples.",
               "He eats 2 apples, so he has 12 + 2 = 14 apples left.",
               "The answer is \\boxed{14}."),
        reference="10",
        reply="The first erroneous step is Step 2: it adds the 2 eaten apples instead of "
              "subtracting them; step 3 only repeats its wrong value. \\boxed{2}",
    ),
    "code": WorkedExample(
        problem="Write a Python function `count_even(nums)` that returns how many numbers in the "
                "list `nums` are even.",
        steps=("A number n is even when n % 2 == 0.",
               "So I loop over the list and count the numbers with n % 2 == 1.",
               "```python\ndef count_even(nums):\n    return sum(1 for n in nums if n % 2 == 1)\n```"),
        reference="```python\ndef count_even(nums):\n    return sum(1 for n in nums if n % 2 == 0)\n```",
        reply="The first erroneous step is Step 2: it counts the odd numbers (n % 2 == 1) "
              "instead of the even ones; step 3 only implements that wrong test. \\boxed{2}",
    ),
}

# Variant name -> whether the correct answer is shown.
VARIANTS: dict[str, bool] = {"L2": False, "L1": True}

_ERROR_WORDS = r"(?:error|mistake|wrong|incorrect|erroneous|flaw|fault)"
_PHRASES = (
    re.compile(rf"\b{_ERROR_WORDS}\w*\b[^.\n]{{0,60}}?\bstep\s*#?\s*(\d+)", re.IGNORECASE),
    re.compile(rf"\bstep\s*#?\s*(\d+)\b[^.\n]{{0,40}}?\b{_ERROR_WORDS}", re.IGNORECASE),
)
# "step N" not followed by a colon: "Step 2:" starts an echo of the attempt's listing, not an answer.
_STEP = re.compile(r"\bstep\s*#?\s*(\d+)\b(?!\s*:)", re.IGNORECASE)
_INT = re.compile(r"-?\d+")


def _boxed(text: str) -> str | None:
    return ThoughtRules().extract_answer(text, "math")


def parse_step(text: str) -> tuple[int | None, str | None]:
    """The step number the answer names and the rule that found it ("boxed", "phrase", "step",
    "number"); (None, None) when no rule applies. Range is not checked here."""
    boxed = _boxed(text)
    if boxed is not None:
        match = _INT.search(boxed)
        if match:
            return int(match.group()), "boxed"
    hits = [(m.start(), int(m.group(1))) for pat in _PHRASES for m in pat.finditer(text)]
    if hits:
        return min(hits)[1], "phrase"
    match = _STEP.search(text)
    if match:
        return int(match.group(1)), "step"
    stripped = text.strip().rstrip(".")
    if re.fullmatch(r"\d+", stripped):
        return int(stripped), "number"
    return None, None


def _uniform(n: int, rng: random.Random) -> int:
    return rng.randint(1, n)


def _last(n: int, rng: random.Random) -> int:
    return n


def _first(n: int, rng: random.Random) -> int:
    return 1


# Fallback rule when the answer cannot be used: (n thoughts, rng) -> h* in 1..n.
FALLBACKS: dict[str, Callable[[int, random.Random], int]] = {
    "uniform": _uniform,
    "last": _last,
    "first": _first,
}


def get_fallback(name: str) -> Callable[[int, random.Random], int]:
    """The fallback rule `name`; unknown names raise listing the known ones."""
    try:
        return FALLBACKS[name]
    except KeyError:
        raise ValueError(f"unknown localization fallback {name!r}; known: {sorted(FALLBACKS)}") from None


def strip_stop(thought: str, stop: str) -> str:
    """The thought's text without its stop pattern (and surrounding whitespace)."""
    return thought.replace(stop, "").strip()


def reference_answer(task: Any) -> str:
    """What the L1 variant reveals: math, the answer; code, the reference solution's last thought."""
    if task.kind == "math" and task.answer is not None:
        return str(task.answer)
    return strip_stop(task.reference[-1], DEFAULT_STOP)  # task data is written with it (envs.rules)


def user_message(problem: str, steps: Sequence[str], reference: str | None) -> str:
    """The user turn: instruction, problem, (L1: correct answer), numbered steps, question."""
    lines = [INSTRUCTION, "", "Problem:", problem.strip(), ""]
    if reference is not None:
        lines += ["Correct final answer (for reference; do not explain how to get it):",
                  reference.strip(), ""]
    lines.append("Attempt:")
    lines += [f"Step {i}: {step}" for i, step in enumerate(steps, start=1)]
    lines += ["", QUESTION]
    return "\n".join(lines)


def build_messages(task: Any, thoughts: Sequence[str], variant: str = "L2",
                   worked_example: bool = True, stop: str = DEFAULT_STOP) -> list[dict]:
    """Chat messages asking to localize the first error of `thoughts` (a failed rollout)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown localization variant {variant!r}; known: {sorted(VARIANTS)}")
    show_reference = VARIANTS[variant]
    messages = [{"role": "system", "content": SYSTEM}]
    example = EXAMPLES.get(task.kind)
    if worked_example:
        if example is None:
            raise ValueError(f"no localization worked example for task kind {task.kind!r}; "
                             f"known kinds: {sorted(EXAMPLES)} (or set worked_example=false)")
        messages += [
            {"role": "user", "content": user_message(
                example.problem, example.steps, example.reference if show_reference else None)},
            {"role": "assistant", "content": example.reply},
        ]
    steps = [strip_stop(t, stop) for t in thoughts]
    messages.append({"role": "user", "content": user_message(
        task.problem, steps, reference_answer(task) if show_reference else None)})
    return messages


@dataclass(frozen=True)
class Localization:
    """The outcome of localizing one seed.

    h: the reset index h* in 1..n that is used (the parsed answer, or the fallback's).
    parsed: the number the answer named (None when nothing was found).
    rule: which parsing rule found it ("boxed", "phrase", "step", "number") or None.
    failed: True when the answer was unparseable or out of range (the fallback chose h).
    text: the model's raw answer.
    prompt_tokens: tokens of the rendered prompt; generated_tokens: tokens of the answer.
    budget_out: the answer ran out of its token budget before it ended.
    """

    h: int
    parsed: int | None
    rule: str | None
    failed: bool
    text: str
    prompt_tokens: int
    generated_tokens: int
    budget_out: bool = False


def resolve(text: str, n: int, fallback: str, rng: random.Random,
            prompt_tokens: int = 0, generated_tokens: int = 0, budget_out: bool = False) -> Localization:
    """Turn the model's answer into h* for a seed with `n` thoughts (fallback when unusable)."""
    if n < 1:
        raise ValueError(f"a seed needs at least one thought to localize, got n={n}")
    parsed, rule = parse_step(text)
    ok = parsed is not None and 1 <= parsed <= n
    h = parsed if ok else get_fallback(fallback)(n, rng)
    return Localization(h=h, parsed=parsed, rule=rule, failed=not ok, text=text,
                        prompt_tokens=prompt_tokens, generated_tokens=generated_tokens,
                        budget_out=budget_out)


def encode_chat(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered prompt: a chat template already holds its special tokens; the
    plain-text format gets the tokenizer's usual ones (e.g. BOS)."""
    add_special = not getattr(tokenizer, "chat_template", None)
    ids = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    if not ids:
        raise ValueError("the rendered prompt encodes to no tokens")
    return list(ids)


def localize_many(seeds: Sequence[Any], backend: Any, sampling: Any, cfg: Any, rng: random.Random,
                  rules: ThoughtRules) -> list[Localization]:
    """Localize every seed in one batched `backend.generate` call.

    seeds: rollouts with `.task` and `.thoughts`; sampling: a `Sampling` for the answers;
    cfg: `LocalizeConfig` (variant, worked_example, answer_prefix, fallback).
    """
    if not seeds:
        return []
    prompts = []
    for seed in seeds:
        messages = build_messages(seed.task, seed.thoughts, cfg.variant, cfg.worked_example, rules.stop)
        prompts.append(encode_chat(backend.tokenizer, render_messages(messages, backend.tokenizer)))
    prefix = cfg.answer_prefix
    stop: tuple[str, ...] = ()
    if prefix:  # the model's turn starts with it: the answer's text is prefix + continuation,
        # one line as in the worked example (the step number comes first, so nothing is lost)
        prompts = [p + backend.tokenizer(prefix, add_special_tokens=False)["input_ids"] for p in prompts]
        stop = ("\n",)
    outs = backend.generate(prompts, 1, sampling, stop=stop)
    return [resolve(prefix + out[0].text, len(seed.thoughts), cfg.fallback, rng,
                    prompt_tokens=len(prompt), generated_tokens=len(out[0].token_ids),
                    budget_out=out[0].finish_reason == "length")
            for seed, prompt, out in zip(seeds, prompts, outs, strict=True)]
