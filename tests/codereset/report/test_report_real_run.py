"""The report on run directories written by the real trainer (tiny model, 2 steps, real
sandbox), as a Hydra multirun sweep; plus a real run killed with SIGKILL mid-run.

The checks compare the report's tables with numbers recomputed here from the runs' own
metrics.jsonl / eval.jsonl, so they hold whatever the tiny model happens to do.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codereset.report import ReportConfig, build_report
from codereset.report.runs import load_runs
from report_fixtures import markdown_table

ROOT = Path(__file__).resolve().parents[3]
AGENTS = ("grpo", "rrpo", "srpo")
STEPS = 2
# Small rollouts keep a 3-job sweep at about 30 s of CPU; the report does not care about size.
SMALL = ["model=tiny", "trainer.progress=false", "env.max_thoughts=2", "env.max_thought_tokens=8",
         "agent.localize.max_new_tokens=8", "trainer.prompts_per_step=1", "validation.max_tasks=1"]


def _train(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codereset.train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=os.environ | {"HYDRA_FULL_ERROR": "1"})


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("real") / "sweep"
    proc = _train(["-m", f"+agent={','.join(AGENTS)}", f"trainer.steps={STEPS}", *SMALL,
                   f"hydra.sweep.dir={root}"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("real_report")
    return build_report([sweep], out, ReportConfig(smooth=1))


def _rows(run_dir: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / name).read_text().splitlines()]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values)


def test_sweep_gives_one_complete_run_per_agent(report):
    runs = report.summary["runs"]
    assert sorted(r["group"] for r in runs) == sorted(AGENTS)
    for run in runs:
        assert run["last_step"] == STEPS and run["state"] == "finished", run
        assert run["missing_metric_keys"] == [], run
        assert run["problems"] == [], run


def test_figures_exist(report):
    names = {p.name for p in report.figures}
    assert {"learning_curves.png", "compute.png", "reset_diagnostics.png"} <= names
    for fig in report.figures:
        assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.html.read_text().count("data:image/png;base64,") == len(report.figures)


def test_tables_hold_metrics_numbers(report):
    md = report.markdown.read_text()
    time_rows = {r["agent"]: r for r in markdown_table(md, "Wall time per step")}
    token_rows = {r["agent"]: r for r in markdown_table(md, "Tokens per step")}
    total_rows = {r["agent"]: r for r in markdown_table(md, "Totals and throughput")}
    for run in load_runs([report.out_dir / r["path"] for r in report.summary["runs"]]):
        agent = run.label("agent.name")
        rows = _rows(run.path, "metrics.jsonl")
        assert len(rows) == STEPS
        assert time_rows[agent]["generate s/step"] == \
            f"{_mean([r['time_generate_s'] for r in rows]):.2f}"
        assert time_rows[agent]["train s/step"] == f"{_mean([r['time_train_s'] for r in rows]):.2f}"
        for key, column in (("tokens_trained", "trained"), ("tokens_seed_search", "seed search"),
                            ("tokens_localization", "localization"),
                            ("tokens_generated", "generated (all)"),
                            ("tokens_prefix_reused", "prefix reused")):
            assert token_rows[agent][column] == f"{_mean([r[key] for r in rows]):.0f}", key
        generated = sum(r["tokens_generated"] for r in rows)
        assert total_rows[agent]["generated tokens (total)"] == f"{generated:.0f}"
        seconds = sum(r["time_generate_s"] + r["time_localize_s"] for r in rows)
        assert total_rows[agent]["generation tok/s"] == f"{generated / seconds:.1f}"
        # the learning curve is the pass rate of each step (one run per agent, no smoothing)
        curve = report.summary["curves"]["pass_rate"][agent]
        assert curve["x"] == [float(r["step"]) for r in rows]
        assert curve["mean"] == pytest.approx([r["pass_rate"] for r in rows])


def test_eval_table_holds_eval_jsonl(report):
    md = report.markdown.read_text()
    table = markdown_table(md, "Final evaluation")
    for run in load_runs([report.out_dir / r["path"] for r in report.summary["runs"]]):
        agent = run.label("agent.name")
        evals = _rows(run.path, "eval.jsonl")
        last = max(r["step"] for r in evals)
        for row in (r for r in evals if r["step"] == last):
            cell = next(t for t in table if t["agent"] == agent and t["suite"] == row["suite"]
                        and t["split"] == row["split"] and t["k"] == str(row["k"]))
            assert cell["pass@k (± SE over runs)"] == f"{row['pass_at_k']:.3f}"
            assert cell["tasks"] == str(row["n_tasks"])


def test_reset_table_holds_reset_metrics(report):
    md = report.markdown.read_text()
    rows = {r["agent"]: r for r in markdown_table(md, "Reset diagnostics")}
    assert "grpo" not in rows
    checked = 0
    for run in load_runs([report.out_dir / r["path"] for r in report.summary["runs"]]):
        agent = run.label("agent.name")
        if agent == "grpo":
            continue
        metrics = _rows(run.path, "metrics.jsonl")
        depths = [d for r in metrics for d in r["reset_depths"]]
        if not depths:
            continue  # no seed found (every rollout passed): no reset group
        assert rows[agent]["reset groups"] == f"{len(depths):.1f}"
        assert rows[agent]["reset position h*/n"] == f"{sum(depths) / len(depths):.3f}"
        checked += 1
    assert checked  # the random tiny model fails, so seeds and reset groups exist


def test_killed_real_run_renders_as_partial(tmp_path):
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "codereset.train", "+agent=srpo",
                             "trainer.steps=200", *SMALL, f"trainer.output_dir={run_dir}"],
                            cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        metrics = run_dir / "metrics.jsonl"
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.is_file() and metrics.read_text().count("\n") >= 1:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    result = build_report([run_dir], tmp_path / "out")
    md = result.markdown.read_text()
    assert "Partial runs (1 of 1)" in md
    run = result.summary["runs"][0]
    assert run["partial"] and run["state"] == "dead"   # still "running" on disk, its owner is gone
    assert any("metrics stop at step" in p for p in run["problems"])
    assert 1 <= run["last_step"] < 200
    assert result.summary["curves"]["pass_rate"]["srpo"]["n"][0] == 1
    assert not math.isnan(result.summary["compute"]["tokens"]["srpo"]["tokens_trained"]["mean"])


def test_real_math_run_fills_the_oracle_section(tmp_path):
    run_dir = tmp_path / "arith"
    proc = _train(["+agent=srpo", "env=math_arith", f"trainer.steps={STEPS}", *SMALL,
                   f"trainer.output_dir={run_dir}"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = build_report([run_dir], tmp_path / "out")
    assert "oracle_panels.png" in {p.name for p in result.figures}
    md = result.markdown.read_text()
    row = markdown_table(md, "Localization vs the oracle")[0]
    metrics = _rows(run_dir, "metrics.jsonl")
    clean = sum(r["reset_groups_clean"] for r in metrics)
    erroneous = sum(r["reset_groups_erroneous"] for r in metrics)
    empty = sum(r["reset_groups_empty"] for r in metrics)   # h* = 1: its own row, neither clean nor erroneous
    assert clean + erroneous + empty > 0
    if clean + erroneous:
        assert row["share clean"] == f"{clean / (clean + erroneous):.3f}"
    judged = [r for r in _rows(run_dir, "samples.jsonl")
              if r["group"] == "reset" and "h_oracle" in r]
    assert len(judged) == clean + erroneous + empty
    assert sum(r["reset_index"] == 1 for r in judged) == empty
    with_error = [r for r in judged if r["h_oracle"] is not None]
    if with_error:
        assert "Correction rate by deviation" in md
    else:
        assert f"samples.jsonl holds {len(judged)} oracle-judged reset group(s)" in md
