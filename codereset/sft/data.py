"""Warm-start data: the tokenizer, solution examples, and localization examples built from
corrupted reference solutions.

Solution example: the task's prompt exactly as the trainer renders and encodes it
(`codereset.rollouts.rollout.encode_prompt`, i.e. `envs.prompts.render_prompt` + `localize.encode_chat`),
followed by the reference thoughts and EOS; the loss covers the thoughts and the EOS only.

Localization example: a *failed rollout* made from a reference solution by corrupting one event
and propagating the wrong count through the later thoughts (`corrupt`), shown in SRPO's
localization prompt (`codereset.rollouts.localize.build_messages` + `envs.prompts.render_messages`); the
target is ``\\boxed{N}`` + EOS, where N = `envs.oracle.first_error` + 1 (the oracle's first wrong thought,
1-based as the prompt numbers its steps). Corruptions that the oracle does not flag, or that leave
the final answer right, are dropped.

Corruption kinds (registry `CORRUPTIONS`): "slip" (the step's result is off by a few), "operand"
(a wrong number enters the step, the arithmetic is right), "operation" (the wrong operation,
e.g. + for -), "skip" (an event is left out). Later thoughts redo their own event correctly on
the wrong count, as a model that trusts its earlier steps would.

The tokenizer is a byte-level BPE trained on the prompts and solutions (digits always single
tokens, ChatML special tokens and chat template as in `codereset.models.bytes_tokenizer`): the
default model's 49k-token vocabulary would be >85% of a tiny model's parameters and compute.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from envs.oracle import first_error
from envs.rules import DEFAULT_STOP, ThoughtRules

# The localization answer every warm-start teaches: ``\\boxed{N}`` + EOS, straight after the
# chat template's generation prompt (no answer prefix). Recorded in sft_summary.json
# (`localize_prompt`); an RL run that asks this model with another prompt is refused
# (codereset.run.preflight.check_localize_prompt).
LOCALIZE_ANSWER_PREFIX = ""

# "a op n = r." inside a reference thought of the arith suite.
_EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)\.")
_START = re.compile(r"^\w+ starts with \d+ [a-z]+\. ")
_ANSWER = re.compile(r" The answer is \\boxed\{[^}]*\}\.$")
_APPLY: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, n: a + n, "-": lambda a, n: a - n, "*": lambda a, n: a * n,
    "/": lambda a, n: a // n,
}


# -- tokenizer -------------------------------------------------------------------------------
def train_tokenizer(texts: Sequence[str], vocab_size: int):
    """A transformers fast tokenizer: byte-level BPE fit on `texts`, single-digit tokens, ChatML."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from codereset.models.bytes_tokenizer import CHATML_TEMPLATE, SPECIAL_TOKENS

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    core.train_from_iterator(list(texts), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>",
                                  eos_token="<|im_end|>", pad_token="<|im_end|>",
                                  unk_token="<|endoftext|>")
    tok.chat_template = CHATML_TEMPLATE
    return tok


# -- corruption of reference solutions ---------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """One reference thought: its words before the equation, operation and operand."""

    words: str
    op: str
    n: int


def decompose(task: Any, stop: str) -> tuple[int, str, list[Event]]:
    """(start count, first thought's "X starts with ..." sentence, events) of an arith task."""
    events, opening, start = [], "", None
    for i, thought in enumerate(task.reference):
        body = thought.strip("\n").removesuffix(stop)
        if i == 0:
            match = _START.match(body)
            opening = match.group() if match else ""
            body = body[len(opening):]
        body = _ANSWER.sub("", body)
        eq = _EQUATION.search(body)
        if eq is None:
            raise ValueError(f"task {task.task_id}: thought {i} has no 'a op n = r.' equation")
        if start is None:
            start = int(eq.group(1))
        events.append(Event(body[: eq.start()], eq.group(2), int(eq.group(3))))
    return start, opening, events


def compose(start: int, opening: str, events: Sequence[Event], stop: str,
            results: dict[int, int] | None = None) -> tuple[str, ...]:
    """Thoughts in the reference format, each event applied to the running count; `results`
    overrides the claimed result of some events (an arithmetic slip)."""
    value, thoughts = start, []
    for i, ev in enumerate(events):
        new = (results or {}).get(i, _APPLY[ev.op](value, ev.n))
        text = f"{opening if i == 0 else ''}{ev.words}{value} {ev.op} {ev.n} = {new}."
        if i == len(events) - 1:
            text += f" The answer is \\boxed{{{new}}}."
        thoughts.append(("\n" if i else "") + text + stop)
        value = new
    return tuple(thoughts)


def _slip(events, k, rng, start):
    value = start
    for ev in events[:k]:
        value = _APPLY[ev.op](value, ev.n)
    true = _APPLY[events[k].op](value, events[k].n)
    wrong = true + rng.choice([-1, 1]) * rng.randint(1, 10)
    return list(events), {k: max(wrong, 0) if wrong != true else true + 1}


def _operand(events, k, rng, start):
    ev = events[k]
    n = ev.n + rng.choice([-1, 1]) * rng.randint(1, 5) if ev.op in "+-" else rng.choice(
        [m for m in (2, 3, 4, 5, 6) if m != ev.n])
    out = list(events)
    out[k] = Event(ev.words, ev.op, max(n, 1))
    return out, None


def _operation(events, k, rng, start):
    ev = events[k]
    out = list(events)
    out[k] = Event(ev.words, rng.choice([o for o in "+-*" if o != ev.op]), ev.n)
    return out, None


def _skip(events, k, rng, start):
    if len(events) < 2:
        return None
    out = list(events[:k]) + list(events[k + 1:])
    return out, None


# kind -> (events, k, rng, start) -> (new events, result overrides) or None when not applicable.
CORRUPTIONS: dict[str, Callable] = {"slip": _slip, "operand": _operand, "operation": _operation,
                                    "skip": _skip}


def corrupt(task: Any, rng: random.Random, rules: ThoughtRules = ThoughtRules(),
            kinds: Sequence[str] = tuple(CORRUPTIONS)) -> tuple[tuple[str, ...], int] | None:
    """A failed rollout of `task` and the oracle's 1-based first wrong step, or None when the
    drawn corruption is not applicable, not flagged by the oracle, or leaves the answer right."""
    unknown = [k for k in kinds if k not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruption kind(s) {unknown}; known: {sorted(CORRUPTIONS)}")
    start, opening, events = decompose(task, DEFAULT_STOP)  # the stop the reference is written with
    k = rng.randrange(len(events))
    made = CORRUPTIONS[rng.choice(list(kinds))](events, k, rng, start)
    if made is None:
        return None
    new_events, results = made
    if any(v < 0 for v in _running(start, new_events, results)):
        return None
    thoughts = compose(start, opening, new_events, rules.stop, results)
    if rules.extract_answer(thoughts[-1], "math") == task.answer:
        return None
    i = first_error(task, thoughts, rules)
    return None if i is None else (thoughts, i + 1)


def _running(start: int, events: Sequence[Event], results: dict[int, int] | None) -> list[int]:
    value, out = start, []
    for i, ev in enumerate(events):
        value = (results or {}).get(i, _APPLY[ev.op](value, ev.n))
        out.append(value)
    return out


# -- encoded examples -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """Token ids of one training sequence; the loss covers ids[target_from:]."""

    ids: tuple[int, ...]
    target_from: int


def solution_example(task: Any, tokenizer: Any, fewshot: bool, rules: ThoughtRules) -> Example:
    """The trainer's prompt ids for `task` followed by its reference thoughts and EOS (the EOS
    ends a continuous-mode rollout right after the final thought; per-thought generation stops
    at the final thought's stop pattern and never samples it)."""
    from codereset.rollouts.rollout import encode_prompt

    prompt = encode_prompt(task, tokenizer, fewshot, rules)
    target = tokenizer("".join(rules.adopt(task.reference)), add_special_tokens=False)["input_ids"]
    return Example(tuple(prompt) + tuple(target) + (tokenizer.eos_token_id,), len(prompt))


def localization_text(task: Any, thoughts: Sequence[str], tokenizer: Any, variant: str,
                      worked_example: bool, rules: ThoughtRules) -> str:
    """SRPO's rendered localization prompt for a failed rollout (codereset.rollouts.localize)."""
    from codereset.rollouts.localize import build_messages
    from envs.prompts import render_messages

    return render_messages(build_messages(task, thoughts, variant, worked_example, rules.stop), tokenizer)


def localization_example(task: Any, thoughts: Sequence[str], step: int, tokenizer: Any,
                         variant: str, worked_example: bool, rules: ThoughtRules) -> Example:
    """Localization prompt ids followed by ``\\boxed{step}`` and EOS."""
    from codereset.rollouts.localize import encode_chat

    prompt = encode_chat(tokenizer, localization_text(task, thoughts, tokenizer, variant,
                                                      worked_example, rules))
    answer = tokenizer(f"\\boxed{{{step}}}", add_special_tokens=False)["input_ids"]
    return Example(tuple(prompt) + tuple(answer) + (tokenizer.eos_token_id,), len(prompt))
