"""Evaluation of a model or checkpoint on a task suite (`python -m codereset.evaluate`'s work; the
command line itself is `codereset/evaluate.py`).

`evaluate(cfg, out_dir)` loads the model (with `eval.checkpoint`'s weights when given), rolls out
every task `eval.n_samples` times (`codereset.eval.eval_tasks.evaluate_tasks`, in a few batches
under a progress bar), and appends the eval.jsonl and eval_samples.jsonl rows to `out_dir`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from codereset.config import EvaluateConfig

log = logging.getLogger("codereset.evaluate")


def load_evaluated_model(cfg: Any) -> tuple[Any, Any, int]:
    """(model, tokenizer, step): cfg.model, with cfg.eval.checkpoint's weights when given."""
    from codereset.run.checkpoint import latest_checkpoint, load_trainer_state, load_weights
    from codereset.run.builders import load_policy

    model, tokenizer = load_policy(cfg.model)
    if not cfg.eval.checkpoint:
        return model, tokenizer, 0
    found = latest_checkpoint(cfg.eval.checkpoint)
    if found is None:
        raise ValueError(f"no checkpoint under {cfg.eval.checkpoint}: give a run directory, its "
                         "checkpoints/ directory or a checkpoints/step_* directory")
    try:
        load_weights(model, found)
    except RuntimeError as err:  # a checkpoint of another architecture: torch's size mismatch
        raise ValueError(f"checkpoint {found} does not fit model.name={cfg.model.name!r} "
                         f"({str(err).splitlines()[0][:160]}): give eval.checkpoint the run directory, "
                         "whose config.yaml names the model it was trained with") from None
    return model, tokenizer, int(load_trainer_state(found)["step"])


PROGRESS_CHUNKS = 10  # batches the tasks are evaluated in (one progress-bar update each)


def merge_results(parts: list[dict]) -> dict:
    """One `evaluate_tasks` result from results on disjoint task lists (pass@k is a mean over
    tasks, so the merge is exact)."""
    per_task = [t for p in parts for t in p["per_task"]]
    ks = parts[0]["k"]
    return {"k": ks, "n_samples": parts[0]["n_samples"], "n_tasks": len(per_task), "per_task": per_task,
            "pass_at_k": {str(k): sum(t["pass_at_k"][str(k)] for t in per_task) / len(per_task) for k in ks},
            "tokens_generated": sum(p["tokens_generated"] for p in parts),
            "samples": [s for p in parts for s in p["samples"]]}


def evaluate_with_progress(roller: Any, verifier: Any, tasks: list, n: int, ks: list[int],
                           progress: bool = True) -> dict:
    """`evaluate_tasks` over `tasks` in up to PROGRESS_CHUNKS batches, with a progress bar."""
    from tqdm.auto import tqdm

    from codereset.eval.eval_tasks import evaluate_tasks

    if not tasks:
        return evaluate_tasks(roller, verifier, tasks, n, ks)  # its error names the fix
    size = max(1, -(-len(tasks) // PROGRESS_CHUNKS))
    parts = []
    with tqdm(total=len(tasks), desc="evaluate", unit="task", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, len(tasks), size):
            chunk = tasks[start:start + size]
            parts.append(evaluate_tasks(roller, verifier, chunk, n, ks))
            bar.update(len(chunk))
            bar.set_postfix({"pass@1": f"{merge_results(parts)['pass_at_k'][str(ks[0])]:.2f}"})
    return merge_results(parts)


def check_eval_options(e: Any) -> None:
    """eval.n_samples, eval.k and eval.temperature fit together (checked before a model loads)."""
    if e.n_samples < 1:
        raise ValueError(f"eval.n_samples must be >= 1, got {e.n_samples}")
    bad = [k for k in e.k if not 1 <= k <= e.n_samples]
    if bad:
        raise ValueError(f"pass@k needs 1 <= k <= eval.n_samples={e.n_samples}; got k={bad}: raise "
                         f"eval.n_samples to {max(bad)} (with eval.temperature > 0) or drop those k")
    if e.temperature == 0 and e.n_samples > 1:
        raise ValueError("greedy decoding (eval.temperature=0) gives identical samples: use "
                         "eval.n_samples=1, or a temperature > 0 for pass@k with k > 1")


def evaluate(cfg: EvaluateConfig, out_dir: str | Path) -> list[dict]:
    """Evaluate per `cfg` (an `EvaluateConfig`); returns the eval.jsonl rows it wrote."""
    from codereset.run.builders import load_tasks, make_generation_backend, make_rules, make_verifier
    from codereset.eval.eval_tasks import eval_rows, eval_sample_rows
    from codereset.rollouts.rollout import Roller
    from codereset.run.rundir import RunDir

    e = cfg.eval
    check_eval_options(e)
    import torch

    from codereset.config import apply_torch_threads

    apply_torch_threads(cfg.torch_threads)
    torch.manual_seed(cfg.seed)
    rules = make_rules(cfg.env)
    tasks = load_tasks(cfg.env, e.split, e.max_tasks)
    log.info("evaluating model %s%s on %s/%s (%d tasks, %d sample(s) each, temperature %g) with "
             "backend %s and sandbox %s; results to %s", cfg.model.name,
             f" (weights of {e.checkpoint})" if e.checkpoint else "", cfg.env.tasks, e.split, len(tasks),
             e.n_samples, e.temperature, cfg.backend.name, cfg.sandbox.kind, Path(out_dir) / "eval.jsonl")
    model, tokenizer, step = load_evaluated_model(cfg)
    backend = make_generation_backend(cfg.backend, model, tokenizer)
    roller = Roller(backend, rules, e.temperature, e.top_p, fewshot=cfg.env.fewshot, mode=e.mode)
    verifier = make_verifier(cfg.sandbox, rules, cfg.env.code_reward)
    try:
        result = evaluate_with_progress(roller, verifier, tasks, e.n_samples, list(e.k), e.progress)
    finally:
        verifier.close()
        backend.close()
    rows = eval_rows(step, cfg.env.tasks, e.split, result)
    run = RunDir(out_dir)
    for row in rows:
        run.append("eval.jsonl", row)
    for sample in eval_sample_rows(step, e.split, result):  # what the scores were given for
        run.append("eval_samples.jsonl", sample)
    return rows
