"""Where does a policy's first error sit? The oracle's first wrong thought among its own failures.

    python benchmarks/first_errors.py --model outputs/sft/chain_tiny_own --suite chain --critical-depth 5
    python benchmarks/first_errors.py --smoke          # a random tiny model, seconds

Samples `--samples` rollouts of every problem of `--split` (first `--problems`) at the training
temperature through the trainer's own rollout and verifier code, then prints the sampled pass
rate and the histogram of `envs.oracle.first_error` (1-based) over the failed rollouts, with the
share at thought 3 or later (issue 26's target for the reset experiment: at least half; the
sampled pass rate in 0.2-0.5). Writes `first_errors.json` under `--out` (default: a folder under
runs/, never a committed result folder).
Last line: `first_errors: pass_rate=<p> failures=<n> late_share=<share at >= 3> modal=<thought>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="outputs/sft/chain_tiny_own")
    p.add_argument("--suite", default="chain")
    p.add_argument("--split", default="val")
    p.add_argument("--critical-depth", type=int, default=None, help="chain's hard step (default: the suite's mix)")
    p.add_argument("--problems", type=int, default=100)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-thoughts", type=int, default=10)
    p.add_argument("--max-thought-tokens", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/first_errors")
    p.add_argument("--smoke", action="store_true", help="a random tiny model on 4 problems x 2 samples")
    return p.parse_args(argv)


def first_error_histogram(failures: list[int | None]) -> dict:
    """Histogram of 1-based first errors (None: the oracle found no wrong thought) and shares."""
    found = [f for f in failures if f is not None]
    hist = Counter(found)
    return {"failures": len(failures), "no_error_found": len(failures) - len(found),
            "histogram": {str(k): hist[k] for k in sorted(hist)},
            "late_share": sum(f >= 3 for f in found) / len(found) if found else None,
            "modal": hist.most_common(1)[0][0] if found else None}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from codereset.config import ModelConfig
    from codereset.generation import make_backend
    from codereset.models.load import load_model
    from codereset.rollouts.rollout import Roller
    from envs.oracle import first_error
    from envs.rules import ThoughtRules
    from envs.tasks import load_suite
    from envs.verify import Verifier

    torch.set_num_threads(1)
    options = {} if args.critical_depth is None else {"critical_depth": args.critical_depth}
    if args.smoke:
        args.model, args.problems, args.samples, args.max_thoughts, args.max_thought_tokens = "tiny", 4, 2, 3, 8
    tasks = load_suite(args.suite, args.split, seed=0, **options)[: args.problems]
    model, tokenizer = load_model(ModelConfig(name=args.model))
    rules = ThoughtRules(max_thoughts=args.max_thoughts, max_thought_tokens=args.max_thought_tokens)
    roller = Roller(make_backend("hf", model, tokenizer), rules, temperature=args.temperature, top_p=args.top_p,
                    fewshot=False, mode="continuous").seeded(args.seed)
    model.eval()
    with torch.no_grad(), Verifier(sandbox="auto", rules=rules) as verifier:
        rollouts = [r for g in roller.run([roller.fresh(t, "base") for t in tasks], args.samples) for r in g]
        roller.score(verifier, rollouts)
    failed = [r for r in rollouts if not r.correct]
    errors = [None if (i := first_error(r.task, r.thoughts, rules)) is None else i + 1 for r in failed]
    result = {"model": args.model, "suite": args.suite, "split": args.split, "options": options,
              "rollouts": len(rollouts), "pass_rate": sum(r.correct for r in rollouts) / len(rollouts),
              "temperature": args.temperature, **first_error_histogram(errors)}
    out = Path(args.out) if Path(args.out).is_absolute() else ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "first_errors.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(rollouts)} rollouts of {len(tasks)} {args.suite} problems ({options or 'default options'}), "
          f"T={args.temperature}: pass rate {result['pass_rate']:.3f}")
    print(f"first error (1-based) among {result['failures']} failures: {result['histogram']} "
          f"(no error found: {result['no_error_found']})")
    late = result["late_share"]
    print(f"first_errors: pass_rate={result['pass_rate']:.3f} failures={result['failures']} "
          f"late_share={'n/a' if late is None else f'{late:.3f}'} modal={result['modal']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
