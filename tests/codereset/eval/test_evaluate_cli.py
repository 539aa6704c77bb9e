"""`python -m codereset.evaluate` as a user sees it (issue 18 item 9): a first line naming model,
suite, split, backend and sandbox, a progress bar over the tasks, a non-empty evaluate.log; and
the chunked evaluation behind the bar gives the same pass@k as one call."""

import subprocess
import sys
from pathlib import Path

from codereset.eval.evaluate import merge_results

ROOT = Path(__file__).resolve().parents[3]


def _result(per_task_correct, n=2, ks=(1, 2)):
    from codereset.eval.passk import pass_at_k

    per_task = [{"task_id": f"t{i}", "n": n, "correct": c, "reward_mean": c / n,
                 "pass_at_k": {str(k): pass_at_k(n, c, k) for k in ks}} for i, c in enumerate(per_task_correct)]
    return {"k": list(ks), "n_samples": n, "n_tasks": len(per_task), "per_task": per_task, "tokens_generated": 10,
            "pass_at_k": {str(k): sum(t["pass_at_k"][str(k)] for t in per_task) / len(per_task) for k in ks},
            "samples": [{"task_id": t["task_id"]} for t in per_task]}


def test_merged_chunks_equal_one_result():
    whole = _result([0, 1, 2, 2, 0])
    merged = merge_results([_result([0, 1]), _result([2, 2, 0])])
    assert merged["pass_at_k"] == whole["pass_at_k"] == {"1": 0.5, "2": 0.6}
    assert merged["n_tasks"] == 5 and merged["tokens_generated"] == 20 and len(merged["samples"]) == 5


def test_evaluate_names_what_it_evaluates_and_shows_progress(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "codereset.evaluate", "model=tiny", "env=humaneval",
                           "eval.max_tasks=3", "sandbox=local", f"eval.output_dir={tmp_path}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "evaluating model tiny on humaneval/test (3 tasks, 1 sample(s) each, temperature 0) with backend" in out
    assert "and sandbox local" in out
    assert "evaluate: 100%" in proc.stderr and "3/3" in proc.stderr          # the progress bar
    log = (tmp_path / "evaluate.log").read_text()
    assert "evaluating model tiny" in log and "humaneval/test: pass@1 = " in log
