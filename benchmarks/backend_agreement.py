"""Do the HF loop and the vLLM engine sample the same rollouts' distribution? One run, both sides.

    python benchmarks/backend_agreement.py [--rows 16] [--steps 2] [--engine async|sync] [--seed 0]

Both trainers are built by the project's own `Trainer.setup()` from the main job's config
(conf/train.yaml: SmolLM2-135M-Instruct, the `basic` code suite, 5 thoughts of 96 tokens,
temperature 0.7, top_p 0.95, continuous rollouts), one with `backend=hf`, one with `backend=vllm`
(`backend.vllm.engine`, default async). From the same initial weights each draws `--rows` fresh
rollouts of every training prompt of the first `--steps` steps' batches (`Roller.run`, scored by the
same verifier). Same policy and sampling settings, so the two samples should come from one
distribution; the script compares, per side: generated tokens per rollout (mean, standard error),
thoughts per rollout, how episodes end (EOS / final answer / truncated) and the pass rate, and the
two-sample z of the tokens-per-rollout difference (Welch). A |z| well above 3 says the backends
differ in more than sampling noise (a stop, EOS or sampling-parameter mismatch). The draws are
independent (each side its own random stream); only the distribution is compared.

The LAST line is exactly `backend_agreement: hf_tokens=<mean> vllm_tokens=<mean> z=<z>
hf_pass=<rate> vllm_pass=<rate> n=<rollouts per side>`. `--smoke`: the tiny random model, 2 prompts
x 2 rows, 3 thoughts of 16 tokens; needs vLLM; figures mean nothing. Writes nothing.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, when not pip-installed
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir, rollout_engine
import outdir  # noqa: E402
from rollout_engine import SMOKE, close, make_trainer  # noqa: E402


def draw(trainer, steps: int, rows: int) -> list:
    """`rows` fresh, scored rollouts of every prompt of the first `steps` batches."""
    tasks = [t for step in range(1, steps + 1) for t in trainer.sampler.batch(step)]
    roller = trainer.roller
    groups = roller.run([roller.fresh(t) for t in tasks], rows)
    rollouts = [r for g in groups for r in g]
    roller.score(trainer.verifier, rollouts)
    return rollouts


def summary(rollouts: list) -> dict:
    tokens = [r.generated_tokens for r in rollouts]
    ends = Counter("eos" if r.finish == "eos" else r.status for r in rollouts)
    return {"n": len(rollouts), "tokens": statistics.mean(tokens),
            "se": statistics.stdev(tokens) / math.sqrt(len(tokens)) if len(tokens) > 1 else float("nan"),
            "thoughts": statistics.mean(r.n_thoughts for r in rollouts),
            "pass": statistics.mean(float(r.correct) for r in rollouts),
            "ends": {k: v / len(rollouts) for k, v in sorted(ends.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=16, help="rollouts per prompt on each side")
    ap.add_argument("--steps", type=int, default=2, help="training batches whose prompts are drawn")
    ap.add_argument("--engine", choices=["async", "sync"], default="async")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for both trainers")
    outdir.add_arguments(ap, "backend_agreement", out=False)
    args = ap.parse_args()
    extra = [f"seed={args.seed}", *args.overrides]
    if args.smoke:
        extra, args.rows, args.steps = [*SMOKE, *extra], 2, 1
    try:
        import vllm  # noqa: F401
    except ImportError:
        sys.exit("backend_agreement: needs vLLM (pip install -e '.[vllm]')")
    tmp = Path(tempfile.mkdtemp(prefix="codereset-backend-agreement-"))
    sides = {}
    for name, backend in (("hf", ["backend=hf"]), ("vllm", ["backend=vllm", f"backend.vllm.engine={args.engine}"])):
        trainer = make_trainer("srpo", [*backend, *extra], tmp / name)
        try:
            sides[name] = summary(draw(trainer, args.steps, args.rows))
        finally:
            close(trainer)
        s = sides[name]
        print(f"[{name}] {s['n']} rollouts: {s['tokens']:.1f} +- {s['se']:.1f} generated tokens, "
              f"{s['thoughts']:.2f} thoughts, pass {s['pass']:.3f}, ends {s['ends']}", flush=True)
    h, v = sides["hf"], sides["vllm"]
    se = math.sqrt(h["se"] ** 2 + v["se"] ** 2)
    z = (h["tokens"] - v["tokens"]) / se if se > 0 else float("nan")  # nan: no spread (e.g. --smoke)
    print(f"backend_agreement: hf_tokens={h['tokens']:.1f} vllm_tokens={v['tokens']:.1f} z={z:.2f} "
          f"hf_pass={h['pass']:.3f} vllm_pass={v['pass']:.3f} n={h['n']}")


if __name__ == "__main__":
    main()
