"""Command line of evaluation: pass@k of any model or checkpoint on a task suite (Hydra).

    python -m codereset.evaluate env=humaneval                       # default model, greedy pass@1
    python -m codereset.evaluate model=tiny env.tasks=humaneval eval.max_tasks=10
    python -m codereset.evaluate model.name=Qwen/Qwen2.5-Coder-1.5B-Instruct env=humaneval \\
        eval.n_samples=10 eval.temperature=0.8 eval.k=[1,5,10]
    python -m codereset.evaluate eval.checkpoint=outputs/2026-11-26/12-00-00   # a run's latest weights

With eval.checkpoint=RUN the model, tokenizer and prompt settings come from the run's saved config
(`codereset.eval.from_run`); a command-line override that contradicts them is one `error:` line.

pass@k uses the unbiased estimator 1 - C(n-c,k)/C(n,k) per task, averaged over tasks. Results
are printed and appended to eval.jsonl in eval.output_dir (default: Hydra's run directory) with
the run directory's eval.jsonl schema; `step` is the checkpoint's step (0 for a plain model).
Every scored rollout (thoughts, finish, verdict) goes to eval_samples.jsonl beside it.
The log (console and evaluate.log in the output directory) names model, suite, split, backend
and sandbox first; a progress bar counts tasks (they are evaluated in a few batches, each one
batched generate + sandbox call). Exit status 2 with one `error:` line for a bad configuration.
This module is the command line only; the work is `codereset.eval.evaluate.evaluate`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# Before torch loads OpenMP: threads that spin-wait between ops slow torch down 4-10x when other
# processes share the cores (measured on the 2-core machine); waiting passively costs little
# when the machine is idle. An explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from codereset.config import conf_dir
from codereset.eval.evaluate import evaluate
from codereset.eval.from_run import apply_run_config
from codereset.run.preflight import check_evaluate_config, preflight

log = logging.getLogger("codereset.evaluate")


@hydra.main(config_path=conf_dir(), config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = cfg.eval.output_dir or HydraConfig.get().runtime.output_dir
    try:
        run = apply_run_config(cfg, list(HydraConfig.get().overrides.task))
        if run is not None:
            log.info("model and prompt settings from the run's config: %s", run)
        check_evaluate_config(cfg)
        rows = evaluate(OmegaConf.to_object(cfg), out_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    for row in rows:
        log.info("%s/%s: pass@%s = %.4f (%d tasks, %d samples each)", row["suite"], row["split"], row["k"],
                 row["pass_at_k"], row["n_tasks"], row["n_samples"])
    log.info("rows appended to %s", Path(out_dir) / "eval.jsonl")


if __name__ == "__main__":
    from codereset.train import register

    register()
    preflight(sys.argv[1:], "evaluate", lambda cfg: check_evaluate_config(cfg, sys.argv[1:]))
    main()
