"""Second warm-start stage: teach the model to localize the errors of its OWN failed rollouts.

The first stage (`codereset.sft.train`) teaches localization on corrupted reference solutions.
On `arith` the resulting localizer is below chance on the failures the RL run actually sees
(exact 0.28-0.32 against a uniform draw's 0.34-0.38, benchmarks/results/tiny_lm_comparison):
synthetic corruptions are not the model's own mistakes. This stage, as issue 14 asks:

  1. samples the warm-started model on warm-start problems (never the RL run's train, val or
     test problems; `train.load_problems`) with the RL run's thought sampling and the trainer's own
     rollout and verifier code, and keeps the failed rollouts that SRPO would ask about (at least
     two thoughts) and that the step oracle can label (`envs.oracle.first_error` finds a wrong
     thought); the label is that thought, 1-based as the prompt numbers its steps;
  2. does the same on the RL run's val problems: the held-out failures (problems never trained on,
     in either stage);
  3. fine-tunes on batches of own-failure localization examples (``\\boxed{N}`` + EOS after
     SRPO's localization prompt, `data.localization_example`) mixed with reference solutions, so
     the solving skill the RL run starts from is kept;
  4. measures, before and after, greedy localization on the held-out failures (exact, within one
     step, parse failures) against the uniform draw RRPO makes (h* uniform in 1..n: exact chance
     = mean 1/n, within-1 chance = mean |{h : |h - h_oracle| <= 1}| / n), and the greedy val
     pass rate, and saves the checkpoint (atomically, `train.save`) with `sft_summary.json` that
     carries the first stage's summary plus a `own_failures` section with all of it.

`python -m codereset.sft.own_failures [--init DIR] [--out DIR] [...]` (every `OwnFailuresConfig`
field is an option). Prompt settings (thought budget, few-shot, localization variant) are read
from the first stage's `sft_summary.json`, so the examples are exactly what the RL run shows.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from codereset.sft import data as sd
from codereset.sft.config import SFTConfig
from codereset.sft.train import SUMMARY, rules_of
from envs.oracle import first_error
from envs.rules import ThoughtRules


@dataclass
class OwnFailuresConfig:
    """The own-failure localization stage.

    init: the first stage's checkpoint (its `sft_summary.json` gives the prompt settings).
    out: where the new checkpoint goes (may equal `init`: it is replaced atomically).
    problems: warm-start problems sampled for training failures.
    heldout_problems: RL val problems sampled for held-out failures (None = the whole val split).
    samples: rollouts per training problem; heldout_samples: per held-out problem.
    temperature, top_p: thought sampling (the RL run's `sampling.*`; arith_tiny uses the defaults).
    mode: rollout mode (`sampling.mode` of the RL run).
    min_thoughts: keep failures with at least this many thoughts (SRPO does not ask about
        one-thought seeds: their only reset state is the prompt).
    steps: optimizer steps; batch_size: own-failure localization examples per step;
    solution_batch_size: reference solutions per step (keeps the solving skill; 0 = none).
    lr, warmup_steps, weight_decay, grad_clip: AdamW with linear warm-up, then constant.
    chunk: start states per generate call while sampling.
    threads: torch CPU threads (None = torch's default). seed: sampling and batch order.
    """

    init: str = "outputs/sft/arith_tiny"
    out: str = "outputs/sft/arith_tiny_own"
    problems: int = 3000
    heldout_problems: int | None = None
    samples: int = 2
    heldout_samples: int = 4
    temperature: float = 0.7
    top_p: float = 0.95
    mode: str = "continuous"
    min_thoughts: int = 2
    steps: int = 400
    batch_size: int = 16
    solution_batch_size: int = 8
    lr: float = 3e-4
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    chunk: int = 256
    threads: int | None = 1
    seed: int = 0


@dataclass(frozen=True)
class Failure:
    """A failed rollout with its oracle label: `step` = first wrong thought, 1-based."""

    task: Any
    thoughts: tuple[str, ...]
    step: int


def first_stage_config(init: str) -> SFTConfig:
    """The SFTConfig the `init` checkpoint was trained with (its prompt settings and data)."""
    path = Path(init) / SUMMARY
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --init must be a checkpoint written by "
                                "`python -m codereset.sft` (run that first)")
    cfg = dict(json.loads(path.read_text())["config"])
    from codereset.sft.config import ModelShape

    cfg["shape"] = ModelShape(**cfg["shape"])
    known = {f.name for f in dataclasses.fields(SFTConfig)}
    return SFTConfig(**{k: v for k, v in cfg.items() if k in known})


def label(task: Any, thoughts: Sequence[str], rules: ThoughtRules, min_thoughts: int) -> int | None:
    """The 1-based oracle step of a failed rollout, or None when it is not a usable example
    (fewer than `min_thoughts` thoughts, or no thought the oracle calls wrong)."""
    if len(thoughts) < min_thoughts:
        return None
    i = first_error(task, thoughts, rules)
    return None if i is None else i + 1


def uniform_chance(failures: Sequence[Failure]) -> dict:
    """Exact and within-1 accuracy of RRPO's draw (h* uniform in 1..n) on `failures`."""
    if not failures:
        return {"exact": None, "within_1": None}
    exact = within = 0.0
    for f in failures:
        n = len(f.thoughts)
        exact += 1 / n
        within += sum(1 for h in range(1, n + 1) if abs(h - f.step) <= 1) / n
    return {"exact": exact / len(failures), "within_1": within / len(failures)}


def collect(model: Any, tokenizer: Any, tasks: Sequence[Any], cfg: OwnFailuresConfig,
            rules: ThoughtRules, fewshot: bool, seed: int, samples: int) -> tuple[list[Failure], dict]:
    """Sample `samples` rollouts per task, score them, keep the labelled failures.
    Returns (failures, counts: rollouts, correct, failed, too_short, unlabelled, kept)."""
    from codereset.generation import make_backend
    from codereset.rollouts.rollout import Roller
    from envs.verify import Verifier

    roller = Roller(make_backend("hf", model, tokenizer), rules, temperature=cfg.temperature,
                    top_p=cfg.top_p, fewshot=fewshot, mode=cfg.mode).seeded(seed)
    counts = dict(rollouts=0, correct=0, failed=0, too_short=0, unlabelled=0, kept=0)
    failures: list[Failure] = []
    model.eval()
    with torch.no_grad(), Verifier(sandbox="auto", rules=rules) as verifier:
        for at in range(0, len(tasks), cfg.chunk):
            groups = roller.run([roller.fresh(t, "base") for t in tasks[at: at + cfg.chunk]], samples)
            rollouts = [r for g in groups for r in g]
            roller.score(verifier, rollouts)
            for r in rollouts:
                counts["rollouts"] += 1
                if r.correct:
                    counts["correct"] += 1
                    continue
                counts["failed"] += 1
                if len(r.thoughts) < cfg.min_thoughts:
                    counts["too_short"] += 1
                    continue
                step = label(r.task, r.thoughts, rules, cfg.min_thoughts)
                if step is None:
                    counts["unlabelled"] += 1
                    continue
                failures.append(Failure(r.task, tuple(r.thoughts), step))
    counts["kept"] = len(failures)
    return failures, counts


def evaluate_localizer(model: Any, tokenizer: Any, failures: Sequence[Failure], first: SFTConfig,
                       rules: ThoughtRules) -> dict:
    """Greedy localization on `failures`: exact, within-1, parse failures, and the uniform draw's."""
    from codereset.generation import Sampling, make_backend
    from codereset.rollouts.localize import encode_chat, parse_step

    out = {"n": len(failures), "uniform": uniform_chance(failures)}
    if not failures:
        return {**out, "exact": None, "within_1": None, "parse_failures": None}
    prompts = [encode_chat(tokenizer, sd.localization_text(f.task, f.thoughts, tokenizer, first.localize_variant,
                                                           first.localize_worked_example, rules))
               for f in failures]
    model.eval()
    with torch.no_grad():
        answers = make_backend("hf", model, tokenizer).generate(
            prompts, 1, Sampling(temperature=0.0, max_new_tokens=12))
    exact = within = unparsed = 0
    for f, a in zip(failures, answers, strict=True):
        h = parse_step(a[0].text)[0]
        if h is None or not 1 <= h <= len(f.thoughts):
            unparsed += 1
            continue
        exact += h == f.step
        within += abs(h - f.step) <= 1
    n = len(failures)
    return {**out, "exact": exact / n, "within_1": within / n, "parse_failures": unparsed / n}


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def finetune(model: Any, tokenizer: Any, failures: Sequence[Failure], solutions: Sequence[Any],
             cfg: OwnFailuresConfig, first: SFTConfig, rules: ThoughtRules, rng: random.Random,
             log: Callable[[str], None] = print) -> list[float]:
    """`cfg.steps` AdamW steps on own-failure localization examples (+ reference solutions of
    `solutions`); returns the localization loss of every step."""
    from codereset.sft.train import batch_loss

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(cfg.warmup_steps, 1)))
    losses: list[float] = []
    for step in range(1, cfg.steps + 1):
        model.train()
        batch = [sd.localization_example(f.task, f.thoughts, f.step, tokenizer, first.localize_variant,
                                         first.localize_worked_example, rules)
                 for f in rng.sample(list(failures), min(cfg.batch_size, len(failures)))]
        loc_loss = batch_loss(model, batch, tokenizer.pad_token_id)
        loss = loc_loss
        if cfg.solution_batch_size:
            solved = [sd.solution_example(t, tokenizer, first.fewshot, rules)
                      for t in rng.sample(list(solutions), cfg.solution_batch_size)]
            loss = loss + batch_loss(model, solved, tokenizer.pad_token_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        losses.append(loc_loss.item())
        if step % 100 == 0 or step == cfg.steps:
            log(f"[own-failures] step {step}/{cfg.steps}: localization loss "
                f"{_mean(losses[-100:]):.3f}")
    return losses


def run(cfg: OwnFailuresConfig, log: Callable[[str], None] = print) -> dict:
    """The whole stage; returns the `own_failures` section written into sft_summary.json."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codereset.sft.train import load_problems, pass_rate, save

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    first = first_stage_config(cfg.init)
    rules = rules_of(first)
    model = AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(cfg.init)
    warm, val = load_problems(dataclasses.replace(first, val_tasks=10 ** 9))
    rng = random.Random(f"own-failures:{cfg.seed}")
    pool = rng.sample(warm, min(cfg.problems, len(warm)))
    heldout_tasks = val if cfg.heldout_problems is None else val[: cfg.heldout_problems]

    train_set, train_counts = collect(model, tokenizer, pool, cfg, rules, first.fewshot, cfg.seed, cfg.samples)
    heldout, heldout_counts = collect(model, tokenizer, heldout_tasks, cfg, rules, first.fewshot, cfg.seed + 1,
                                      cfg.heldout_samples)
    log(f"[own-failures] {train_counts['kept']} training failures from {len(pool)} problems "
        f"({train_counts}); {heldout_counts['kept']} held-out failures from {len(heldout_tasks)} val problems")
    if not train_set or not heldout:
        raise SystemExit("[own-failures] no labelled failures to train on or to test with: sample more "
                         "problems (--problems) or check the warm-start (is it solving everything?)")
    val_eval = val[: first.val_tasks]
    before = {"localization": evaluate_localizer(model, tokenizer, heldout, first, rules),
              "val_pass_rate": pass_rate(model, tokenizer, val_eval, first)}
    log(f"[own-failures] before: {before}")

    losses = finetune(model, tokenizer, train_set, warm, cfg, first, rules, rng, log)

    after = {"localization": evaluate_localizer(model, tokenizer, heldout, first, rules),
             "val_pass_rate": pass_rate(model, tokenizer, val_eval, first)}
    log(f"[own-failures] after: {after}")
    section = {"config": dataclasses.asdict(cfg), "train_failures": train_counts,
               "heldout_failures": heldout_counts, "before": before, "after": after,
               "localization_loss": {"first_100": _mean(losses[:100]), "last_100": _mean(losses[-100:])},
               "minutes": round((time.perf_counter() - started) / 60, 2)}
    summary = json.loads((Path(cfg.init) / SUMMARY).read_text())
    summary.update(own_failures=section, val_pass_rate=after["val_pass_rate"],
                   localization_accuracy=after["localization"]["exact"],
                   total_minutes=round(summary.get("total_minutes", summary.get("minutes", 0)) + section["minutes"], 2))
    save(model, tokenizer, Path(cfg.out), summary)
    log(f"[own-failures] saved {cfg.out} ({section['minutes']:.1f} min)")
    return section


def main(argv: list[str] | None = None) -> int:
    import argparse

    from codereset.sft.__main__ import _add_fields

    parser = argparse.ArgumentParser(prog="python -m codereset.sft.own_failures",
                                     description=__doc__.splitlines()[0], epilog=OwnFailuresConfig.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_fields(parser, OwnFailuresConfig, OwnFailuresConfig())
    run(OwnFailuresConfig(**vars(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
