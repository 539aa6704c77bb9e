"""Synthetic run directories written to the run-directory contract, with numbers simple enough
that the tests can state the report's answers by hand (see each formula below).

Per run of agent A and seed s, at step t = 1..steps:
- pass_rate = 0.1 + SLOPE[A] * t + 0.03 * s   (grpo 0.05, rrpo 0.0625, srpo 0.1)
- val_pass_rate on even steps = pass_rate - 0.05
- tokens_trained = 1000 + 10 s; seed search SEED[A] (0/300/200); localization LOC[A] (0/0/100)
  tokens_generated = their sum; tokens_prefix_reused = 0/400/250
- time_generate_s = 2 + 0.5 s, verify 1, localize 0.5 (srpo) else 0, train 3, validate 0.4 on
  even steps else 0, step = sum + 0.15
- the other keys `codereset.run.schema.METRICS` requires: fixed values (reward_mean = pass_rate),
  0 for those the report does not read
- mean_response_tokens = 100 + 10 s
- vineppo (the costly agent, not in the default sweep): like grpo (no resets) plus tokens_mc
  = MC_TOKENS (30,000) per step in tokens_generated
- resets (rrpo): 2 groups per step, depths [0.2, 0.8], signal 0.5, correction 0.5 (oracle
  deviations [0, 1]; the clean one is corrected on odd steps, the erroneous one on even steps)
- resets (srpo): odd steps 3 groups [0.4, 0.6, 0.8] signal 1.0 correction 1/3 (oracle
  deviations [-1, 0, 2], only the -1 group corrected); even steps 1 group [0.6] signal 0.0
  correction 1.0 (deviation [0], corrected)
- with the oracle, samples.jsonl holds one row per reset group agreeing with the above
- srpo: one localization parse failure at step 3
- eval.jsonl: step 0 and final step of the test split; basic pass@1 = FINAL_EVAL[A] + 0.02 s at
  the end; with `val_at_start`, also the step-0 validation row (VAL_START + 0.03 s)
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from codereset.run.schema import METRICS

SLOPE = {"grpo": 0.05, "rrpo": 0.0625, "srpo": 0.1, "vineppo": 0.06}
SEED_SEARCH = {"grpo": 0, "rrpo": 300, "srpo": 200, "vineppo": 0}
LOCALIZATION = {"grpo": 0, "rrpo": 0, "srpo": 100, "vineppo": 0}
PREFIX = {"grpo": 0, "rrpo": 400, "srpo": 250, "vineppo": 0}
FINAL_EVAL = {"grpo": 0.5, "rrpo": 0.55, "srpo": 0.6, "vineppo": 0.55}
# The costly agent (issue 25 item 11): vineppo's Monte-Carlo value tokens, 30x what it trains on;
# no resets. Not in write_sweep's default agents.
MC_TOKENS = {"vineppo": 30_000}
N_TASKS = 50


def _resets(agent: str, step: int, oracle: bool) -> dict:
    if agent in ("grpo", "vineppo"):
        row = {"reset_depth": None, "reset_depths": [], "reset_groups_with_signal": None,
               "correction_rate": None}
        if oracle:  # the trainer writes the oracle keys on every step of an oracle suite
            row |= {"localization_deviations": [], "localization_deviation": None,
                    "reset_groups_clean": 0, "reset_groups_erroneous": 0,
                    "correction_rate_clean": None, "correction_rate_erroneous": None,
                    "suffix_pass_at_4_clean": None, "suffix_pass_at_4_erroneous": None}
        return row
    if agent == "rrpo":
        row = {"reset_depth": 0.5, "reset_depths": [0.2, 0.8], "reset_groups_with_signal": 0.5,
               "correction_rate": 0.5}
        odd = float(step % 2)
        clean = {"correction_rate_clean": odd, "correction_rate_erroneous": 1 - odd,
                 "suffix_pass_at_4_clean": 0.5, "suffix_pass_at_4_erroneous": 0.5}
    elif step % 2:
        row = {"reset_depth": 0.6, "reset_depths": [0.4, 0.6, 0.8],
               "reset_groups_with_signal": 1.0, "correction_rate": 1 / 3}
        clean = {"correction_rate_clean": 0.5, "correction_rate_erroneous": 0.0,
                 "suffix_pass_at_4_clean": 0.3, "suffix_pass_at_4_erroneous": 0.1}
    else:
        row = {"reset_depth": 0.6, "reset_depths": [0.6], "reset_groups_with_signal": 0.0,
               "correction_rate": 1.0}
        clean = {"correction_rate_clean": 1.0, "correction_rate_erroneous": None,
                 "suffix_pass_at_4_clean": 0.3, "suffix_pass_at_4_erroneous": None}
    if oracle:
        devs = [d for d, _ in oracle_groups(agent, step)]
        row |= {"localization_deviations": devs,
                "localization_deviation": sum(devs) / len(devs),
                "reset_groups_clean": sum(d <= 0 for d in devs),
                "reset_groups_erroneous": sum(d > 0 for d in devs)} | clean
    return row


def oracle_groups(agent: str, step: int) -> list[tuple[int, bool]]:
    """(deviation h* - h_oracle, corrected) of each reset group of a step."""
    if agent == "rrpo":
        return [(0, step % 2 == 1), (1, step % 2 == 0)]
    if agent == "srpo":
        return [(-1, True), (0, False), (2, False)] if step % 2 else [(0, True)]
    return []


def sample_rows(agent: str, step: int) -> list[dict]:
    """samples.jsonl rows of a step's reset groups (h_oracle = 3, h* = 3 + deviation)."""
    rows = []
    for deviation, corrected in oracle_groups(agent, step):
        rollouts = [{"correct": corrected and i == 0, "reward": float(corrected and i == 0)}
                    for i in range(4)]
        rows.append({"step": step, "task_id": "arith/1", "group": "reset",
                     "reset_index": 3 + deviation, "h_oracle": 3,
                     "rewards": [r["reward"] for r in rollouts], "rollouts": rollouts})
    rows.append({"step": step, "task_id": "arith/1", "group": "base", "reset_index": None,
                 "rewards": [0.0] * 4, "rollouts": []})
    return rows


def metrics_row(agent: str, seed: int, step: int, oracle: bool = False) -> dict:
    trained = 1000 + 10 * seed
    localize = 0.5 if agent == "srpo" else 0.0
    gen = 2 + 0.5 * seed
    validate = 0.4 if step % 2 == 0 else 0.0
    row = {
        "step": step, "pass_rate": 0.1 + SLOPE[agent] * step + 0.03 * seed,
        "loss": 0.1, "grad_norm": 1.0,
        "tokens_trained": trained, "tokens_seed_search": SEED_SEARCH[agent],
        "tokens_localization": LOCALIZATION[agent], "tokens_prefix_reused": PREFIX[agent],
        "tokens_generated": trained + SEED_SEARCH[agent] + LOCALIZATION[agent] + MC_TOKENS.get(agent, 0),
        "mean_response_tokens": 100 + 10 * seed,
        "localization_parse_failures": 1 if agent == "srpo" and step == 3 else 0,
        "localization_budget_outs": 2 if agent == "srpo" and step == 5 else 0,
        "time_generate_s": gen, "time_verify_s": 1.0, "time_localize_s": localize,
        "time_train_s": 3.0, "time_validate_s": validate,
        "time_step_s": gen + 1.0 + localize + 3.0 + validate + 0.15,
        "skipped_update": False, "reward_mean": 0.1 + SLOPE[agent] * step + 0.03 * seed,
        "mean_logprob": -1.0, "rollouts_trained": 8, "rollouts_backprop": 8,
        "seeds_found": 0 if agent == "grpo" else 1, "fallback_groups": 0,
    }
    if agent in MC_TOKENS:
        row["tokens_mc"] = MC_TOKENS[agent]
    if step % 2 == 0:
        row["val_pass_rate"] = row["pass_rate"] - 0.05
    row |= _resets(agent, step, oracle)
    for key in METRICS.names(required=True):  # keys the report does not read: 0, per the schema
        row.setdefault(key, 0.0)
    return row


VAL_START = 0.05  # val_pass_rate = pass_rate - 0.05 = 0.05 + SLOPE t + 0.03 s, at t = 0


def val_start_row(seed: int) -> dict:
    """The step-0 validation row (validation.at_start) of eval.jsonl."""
    return {"step": 0, "suite": "basic", "split": "val", "k": 1, "pass_at_k": VAL_START + 0.03 * seed,
            "n_tasks": N_TASKS, "n_samples": N_TASKS, "per_task": []}


def eval_rows(agent: str, seed: int, steps: int) -> list[dict]:
    final = FINAL_EVAL[agent] + 0.02 * seed
    return [
        {"step": 0, "suite": "basic", "split": "test", "k": 1, "pass_at_k": 0.1,
         "n_tasks": N_TASKS, "n_samples": N_TASKS, "per_task": [0.0] * N_TASKS},
        {"step": steps, "suite": "basic", "split": "test", "k": 1, "pass_at_k": final,
         "n_tasks": N_TASKS, "n_samples": N_TASKS, "per_task": [1.0] * N_TASKS},
    ]


def write_run(run_dir: Path, agent: str, seed: int, steps: int = 10, *, logged: int | None = None,
              oracle: bool = False, state: str | None = "finished", with_eval: bool = True,
              truncate_last: bool = False, suite: str = "basic", paired: bool = False,
              val_at_start: bool = False) -> Path:
    """One run directory; `logged` < `steps` imitates a run killed after `logged` steps,
    `state=None` leaves run_status.json out, `truncate_last` cuts the last line mid-JSON,
    `paired` sets trainer.paired, `val_at_start` adds the step-0 validation row to eval.jsonl
    (val pass@1 = VAL_START + 0.03 s: the val curve's formula at t = 0)."""
    logged = steps if logged is None else logged
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"agent": {"name": agent}, "seed": seed, "env": {"tasks": suite, "val_split": "val"},
              "model": {"name": "tiny"}, "trainer": {"steps": steps, "paired": paired}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    lines = [json.dumps(metrics_row(agent, seed, t, oracle)) for t in range(1, logged + 1)]
    text = "\n".join(lines) + "\n"
    if truncate_last:
        text += json.dumps(metrics_row(agent, seed, logged + 1, oracle))[:37]
    (run_dir / "metrics.jsonl").write_text(text)
    if oracle:
        (run_dir / "samples.jsonl").write_text("".join(
            json.dumps(r) + "\n" for t in range(1, logged + 1) for r in sample_rows(agent, t)))
    if with_eval:
        start = [val_start_row(seed)] if val_at_start else []
        (run_dir / "eval.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in start + eval_rows(agent, seed, steps)))
    if state is not None:
        (run_dir / "run_status.json").write_text(json.dumps(
            {"state": state, "last_step": logged, "total_steps": steps}))
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "tb").mkdir(exist_ok=True)
    return run_dir


def write_sweep(root: Path, agents=("grpo", "rrpo", "srpo"), seeds=(0, 1, 2), steps: int = 10,
                oracle: bool = False, **run_options) -> Path:
    """A Hydra-multirun-shaped sweep: root/multirun.yaml and root/<job number>/ run dirs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "multirun.yaml").write_text("hydra: {mode: MULTIRUN}\n")
    job = 0
    for agent in agents:
        for seed in seeds:
            write_run(root / str(job), agent, seed, steps, oracle=oracle, **run_options)
            job += 1
    return root


def markdown_table(markdown: str, caption: str) -> list[dict[str, str]]:
    """Rows (header -> cell) of the table whose italic caption line contains `caption`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("*") and caption in line and i + 2 < len(lines)
                 and lines[i + 2].startswith("| "))
    header = [c.strip() for c in lines[start + 2].strip("|").split(" | ")]
    rows = []
    for line in lines[start + 4:]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows.append(dict(zip(header, cells)))
    return rows
