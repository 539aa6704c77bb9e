"""GPU check: a few SRPO steps in bf16 through the project's own trainer, with timings and losses.

Runs `codereset.run.trainer.Trainer` (the same code as `python -m codereset.train +agent=srpo`, minus
Hydra) with the Hugging Face backend on a randomly initialised model of SmolLM2-135M's shape
(`smollm2-135m-random`: 30 layers, width 576, 9 heads / 3 KV heads) and the built-in byte
tokenizer, so no model or tokenizer files are needed. Prints the environment, one line per step
(loss, grad norm, pass rate, tokens, per-phase times), throughput and peak GPU memory.

Meant for GPU machines that have only Python, torch (CUDA), transformers, peft and accelerate and
no package registry. Run it from a source checkout:

    PYTHONPATH=. python scripts/gpu_check.py                 # ~1-3 min on one GPU (3 steps)
    PYTHONPATH=. python scripts/gpu_check.py --device cpu --shape tiny --steps 1   # CPU smoke run

Pure-Python packages the trainer path imports but such a machine lacks travel as wheel files:
`python scripts/gpu_check.py --download-wheels wheels/` on a machine with PyPI access fetches
them (`CARRIED_WHEELS`, 0.9 MiB in all); copy `wheels/` into the checkout, and this script unpacks
every `wheels/*.whl` into a temporary directory at the front of `sys.path`.

What it does not show: learning. A random model never writes an answer, so every real reward
would be 0, every group advantage 0, and the trainer (rightly) skips the update. To run the update
at full size anyway, `CoinFlipRewards` keeps the real verifier in the loop (its time is measured)
but replaces each reward by a seeded fair coin flip (`--real-rewards` turns that off). Losses and
gradient norms are therefore those of random advantages: they show the update ran, not learning.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import importlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Pure-Python distributions the trainer path imports that a torch + transformers + peft +
# accelerate machine does not have (pinned to what the project is tested with), each with the
# top-level module it provides.
CARRIED_WHEELS = {
    "gymnasium==1.4.0": "gymnasium",
    "farama-notifications==0.0.6": "farama_notifications",
    "cloudpickle==2.1.0": "cloudpickle",
    "omegaconf==2.3.1": "omegaconf",
    "antlr4-python3-runtime==4.9.3": "antlr4",
    "math-verify==0.9.0": "math_verify",
    "latex2sympy2_extended==1.11.0": "latex2sympy2_extended",
}
SHAPES = {"smollm2-135m": "smollm2-135m-random", "tiny": "tiny"}


def add_wheels(folder: Path) -> list[str]:
    """Unpack every *.whl in `folder` into one fresh temporary directory and put it first on
    sys.path (unpacked rather than imported from the zip: some wheels hold namespace packages,
    which zip imports do not find); returns the wheels' names."""
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if wheels:
        site = Path(tempfile.mkdtemp(prefix="gpu-check-wheels-"))
        atexit.register(shutil.rmtree, site, True)
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as z:
                z.extractall(site)
        sys.path.insert(0, str(site))
    return [w.name for w in wheels]


def download_wheels(folder: Path) -> None:
    """Fetch CARRIED_WHEELS into `folder` with pip (needs a package registry). antlr4's runtime
    4.9.3 exists only as a source archive, so it is built into a wheel locally."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = list(CARRIED_WHEELS)
    for spec in specs:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(folder), spec]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    total = sum(w.stat().st_size for w in folder.glob("*.whl"))
    print(f"{len(list(folder.glob('*.whl')))} wheels, {total / 2**20:.1f} MiB in {folder}")


def check_imports() -> None:
    """Fail early, naming what is missing and how to bring it."""
    missing = []
    for spec, module in CARRIED_WHEELS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(spec)
    for module in ("torch", "transformers", "peft"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SystemExit(f"missing packages: {missing}. On a machine with PyPI access run "
                         "`python scripts/gpu_check.py --download-wheels wheels/` and copy wheels/ "
                         "into this checkout (or pass --wheels DIR).")


class CoinFlipRewards:
    """A verifier wrapper: real verification, then reward := seeded coin flip in {0, 1} (see the
    module docstring). Everything else is delegated to the wrapped verifier."""

    def __init__(self, verifier, seed: int) -> None:
        import random

        self.verifier = verifier
        self.rng = random.Random(f"gpu-check:{seed}")

    def score_many(self, items):
        outcomes = self.verifier.score_many(items)
        flips = [float(self.rng.random() < 0.5) for _ in outcomes]
        return [dataclasses.replace(o, reward=r, correct=r == 1.0) for o, r in zip(outcomes, flips)]

    def score(self, task, thoughts):
        return self.score_many([(task, thoughts)])[0]

    def __getattr__(self, name):
        return getattr(self.verifier, name)


def build_config(args: argparse.Namespace, out: Path):
    """The TrainConfig of the check: SRPO, HF backend, byte tokenizer, random-init model."""
    from codereset.config import (AgentConfig, BackendConfig, EnvConfig, LocalizeConfig, LoggingConfig,
                                  ModelConfig, SandboxConfig, TrainConfig, TrainerConfig, ValidationConfig)
    from codereset.generation.hf import HFConfig

    return TrainConfig(
        seed=args.seed,
        model=ModelConfig(name=SHAPES[args.shape], tokenizer="bytes", device=args.device, dtype=args.dtype),
        env=EnvConfig(max_thoughts=args.thoughts, max_thought_tokens=args.thought_tokens),
        sandbox=SandboxConfig(kind=args.sandbox),
        backend=BackendConfig(name="hf", hf=HFConfig(max_batch_size=args.batch)),
        agent=AgentConfig(name="srpo", localize=LocalizeConfig(max_new_tokens=args.thought_tokens)),
        trainer=TrainerConfig(steps=args.steps, prompts_per_step=args.prompts, micro_batch_size=args.micro_batch,
                              output_dir=str(out), checkpoint_every=args.steps, progress=False),
        validation=ValidationConfig(every=0, at_end=False, at_start=False),
        logging=LoggingConfig(tensorboard=False),
    )


def describe_machine(device: str) -> str:
    import torch
    import transformers

    text = (f"python {platform.python_version()}, torch {torch.__version__}, "
            f"transformers {transformers.__version__}, device {device}")
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        text += f" ({props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda})"
    return text


STEP_COLUMNS = ("step", "loss", "grad_norm", "pass_rate", "tokens_generated", "tokens_trained",
                "time_generate_s", "time_localize_s", "time_train_s", "time_step_s")


def run(args: argparse.Namespace) -> dict:
    """Train args.steps SRPO steps; print and return a summary."""
    import torch

    from codereset.run.trainer import Trainer

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch; run with --device cpu for a smoke run")
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu-check-"))
    cfg = build_config(args, out)
    print(describe_machine(args.device), flush=True)
    started = time.perf_counter()
    trainer = Trainer(cfg, out, json.dumps(dataclasses.asdict(cfg), indent=2))
    trainer.setup()
    if not args.real_rewards:
        trainer.builder.verifier = CoinFlipRewards(trainer.verifier, args.seed)
    setup_s = time.perf_counter() - started
    params = sum(p.numel() for p in trainer.model.parameters())
    dtype = next(trainer.model.parameters()).dtype
    print(f"model {cfg.model.name}: {params / 1e6:.1f}M parameters, {dtype}; setup {setup_s:.1f} s", flush=True)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    state = trainer.train()
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    print("  ".join(f"{c:>16}" for c in STEP_COLUMNS))
    for row in rows:
        print("  ".join(f"{_fmt(row.get(c)):>16}" for c in STEP_COLUMNS), flush=True)
    gen_tokens = sum(r["tokens_generated"] for r in rows)
    gen_time = sum(r["time_generate_s"] + r["time_localize_s"] for r in rows)
    summary = {
        "state": state, "steps": len(rows), "wall_s": round(wall, 1), "setup_s": round(setup_s, 1),
        "generate_tokens_per_s": round(gen_tokens / gen_time, 1) if gen_time else None,
        "train_tokens_per_s": round(sum(r["tokens_trained"] for r in rows)
                                    / max(sum(r["time_train_s"] for r in rows), 1e-9), 1),
        "peak_gpu_memory_gib": (round(torch.cuda.max_memory_allocated() / 2**30, 2)
                                if args.device.startswith("cuda") else None),
        "losses": [r["loss"] for r in rows], "run_dir": str(out),
    }
    print("summary " + json.dumps(summary), flush=True)
    if state != "finished" or len(rows) != args.steps:
        raise SystemExit(f"gpu check failed: run state {state!r} after {len(rows)} of {args.steps} steps")
    return summary


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="torch device (default cuda; cpu for a smoke run)")
    p.add_argument("--dtype", default="auto", help="model dtype: auto (bf16 on CUDA, fp32 on CPU), bfloat16, float32")
    p.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES), help="random-init model shape")
    p.add_argument("--steps", type=int, default=3, help="SRPO optimizer steps")
    p.add_argument("--prompts", type=int, default=4, help="prompts per step")
    p.add_argument("--thoughts", type=int, default=4, help="thought budget per episode")
    p.add_argument("--thought-tokens", type=int, default=64, help="token budget per thought")
    p.add_argument("--batch", type=int, default=64, help="HF backend max_batch_size")
    p.add_argument("--micro-batch", type=int, default=8, help="rollouts per forward/backward pass")
    p.add_argument("--sandbox", default="auto", help="code sandbox: auto, local, bwrap, docker")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--real-rewards", action="store_true",
                   help="keep the verifier's rewards (all 0 for a random model: no update runs)")
    p.add_argument("--out", default=None, help="run directory (default: a fresh temp dir)")
    p.add_argument("--wheels", default=str(ROOT / "wheels"), help="folder of carried *.whl files")
    p.add_argument("--download-wheels", metavar="DIR", default=None,
                   help="fetch the carried wheels into DIR with pip and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.download_wheels:
        download_wheels(Path(args.download_wheels))
        return None
    added = add_wheels(Path(args.wheels))
    if added:
        print(f"carried wheels on sys.path: {added}")
    check_imports()
    return run(args)


if __name__ == "__main__":
    main()
