"""How often SRPO's localizer gives a usable answer within its token budget, on real failures.

    python benchmarks/localization_probe.py [--runs DIR] [--n 48] [--budget 64] [--model NAME]

Takes failed multi-thought rollouts of the default model logged in `samples.jsonl` files (default:
the committed reference sweep on `basic`, benchmarks/results/ref_basic_smollm2/runs), asks the
model to localize each one's first error with the trainer's own code (`codereset.rollouts.localize`:
prompt, sampling at the agent's temperature, parsing, fallback) and counts, per answer: parsed by
which rule, parse failures (fallback used), and budget-outs (the answer hit `--budget` tokens
without ending). Issue 13's target on the main job's defaults: parse failures and budget-outs
each <= 10% of reset groups. Last line:
    parse_fail=<share> budget_out=<share> n=<answers> budget=<tokens> mean_tokens=<mean>
It writes no files. `--smoke`: the random `tiny` model on 2 failures with a budget of 8 tokens,
seconds (its shares mean nothing).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402


def failed_rollouts(runs: Path, n: int, seed: int) -> list[dict]:
    """Up to `n` distinct failed rollouts with >= 2 thoughts from every samples.jsonl under `runs`."""
    seen, out = set(), []
    for path in sorted(runs.rglob("samples.jsonl")):
        for line in path.read_text().splitlines():
            for r in json.loads(line)["rollouts"]:
                key = (r["task_id"], tuple(r["thoughts"]))
                if not r.get("correct") and len(r["thoughts"]) >= 2 and key not in seen:
                    seen.add(key)
                    out.append(r)
    random.Random(seed).shuffle(out)
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=str(ROOT / "benchmarks/results/ref_basic_smollm2/runs"))
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--budget", type=int, default=None,
                    help="answer token budget (default: the main job's agent.localize.max_new_tokens)")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--prefix", default=None,
                    help="agent.localize.answer_prefix (default: the main job's conf/train.yaml)")
    ap.add_argument("--suite", default="basic")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=3, help="print this many answers")
    outdir.add_arguments(ap, "localization_probe", out=False)
    args = ap.parse_args()
    if args.smoke:
        args.model, args.n, args.budget, args.show = "tiny", 2, 8, 1

    from types import SimpleNamespace

    import torch
    from omegaconf import OmegaConf

    from codereset.agents.base import AgentContext
    from codereset.agents.srpo import SRPOAgent
    from codereset.config import LocalizeConfig
    from codereset.generation import make_backend
    from codereset.models import load_model
    from codereset.models.config import ModelConfig
    from envs.rules import ThoughtRules
    from envs.tasks import load_suite

    train_yaml = OmegaConf.load(ROOT / "conf/train.yaml")
    main_budget = int(OmegaConf.select(train_yaml, "agent.localize.max_new_tokens",
                                       default=LocalizeConfig().max_new_tokens))
    budget = args.budget or main_budget
    prefix = args.prefix if args.prefix is not None else str(OmegaConf.select(
        train_yaml, "agent.localize.answer_prefix", default=""))
    torch.manual_seed(args.seed)
    tasks = {t.task_id: t for split in ("train", "val") for t in load_suite(args.suite, split)}
    picked = [r for r in failed_rollouts(Path(args.runs), 10 * args.n, args.seed) if r["task_id"] in tasks]
    picked = picked[: args.n]
    if not picked:
        raise SystemExit(f"no failed multi-thought rollouts of suite {args.suite!r} under {args.runs}")
    model, tokenizer = load_model(ModelConfig(name=args.model))
    backend = make_backend("hf", model, tokenizer, {"name": "hf"})
    rules = ThoughtRules()
    cfg = SimpleNamespace(localize=LocalizeConfig(max_new_tokens=budget, answer_prefix=prefix))
    agent = SRPOAgent(cfg, AgentContext(backend, rules, random.Random(args.seed)))
    seeds = [SimpleNamespace(task=tasks[r["task_id"]], thoughts=tuple(r["thoughts"]),
                             n_thoughts=len(r["thoughts"])) for r in picked]
    choices = agent.choose_resets(seeds)
    rules_used = collections.Counter(c.info["localizer_rule"] for c in choices)
    fails = sum(c.localization_failed for c in choices)
    outs = sum(c.info["localizer_budget_out"] for c in choices)
    mean_tokens = sum(c.localization_tokens for c in choices) / len(choices)
    for c in choices[: args.show]:
        print(f"--- parsed {c.info['localizer_parsed']} by {c.info['localizer_rule']} "
              f"({c.localization_tokens} tokens)\n{c.info['localizer_answer'][:400]}")
    print(f"rules: {dict(rules_used)}")
    print(f"answers (step: count): {dict(sorted(collections.Counter(c.h for c in choices).items()))}; "
          f"seed lengths: {dict(sorted(collections.Counter(s.n_thoughts for s in seeds).items()))}")
    print(f"parse_fail={fails / len(choices):.3f} budget_out={outs / len(choices):.3f} n={len(choices)} "
          f"budget={budget} mean_tokens={mean_tokens:.1f} prefix={prefix!r}")


if __name__ == "__main__":
    main()
