"""Finding and loading run directories, including damaged (killed) ones."""

import json
from pathlib import Path

import pytest
import yaml

from codereset.report.runs import REQUIRED_METRIC_KEYS, find_run_dirs, load_run, read_jsonl
from report_fixtures import metrics_row, write_run, write_sweep


def test_sweep_search_finds_each_job_and_not_its_subfolders(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", agents=("grpo", "srpo"), seeds=(0, 1), steps=3)
    found = find_run_dirs([sweep, sweep / "0"])  # the same run twice counts once
    assert [p.name for p in found] == ["0", "1", "2", "3"]


def test_missing_path_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        find_run_dirs([tmp_path / "nope"])
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="no run directory found"):
        find_run_dirs([tmp_path / "empty"])


def test_complete_run_is_not_partial(tmp_path):
    run = load_run(write_run(tmp_path / "r", "srpo", 2, steps=4))
    assert run.problems == [] and not run.partial
    assert [r["step"] for r in run.metrics] == [1, 2, 3, 4]
    assert run.label("agent.name") == "srpo" and run.seed == 2
    assert run.state == "finished" and run.total_steps == 4 and run.last_step == 4
    assert run.missing_metric_keys() == []
    assert len(run.evals) == 2


def test_killed_run_truncated_line_no_status_no_eval(tmp_path):
    path = write_run(tmp_path / "r", "srpo", 0, steps=10, logged=3, state=None,
                     with_eval=False, truncate_last=True)
    run = load_run(path)
    assert run.partial
    assert [r["step"] for r in run.metrics] == [1, 2, 3]
    text = "; ".join(run.problems)
    assert "last line truncated" in text
    assert "no run_status.json" in text
    assert "no eval.jsonl" in text
    assert run.state == "unknown"
    assert run.total_steps == 10  # from trainer.steps when run_status.json is missing


def test_interrupted_run_names_its_progress(tmp_path):
    run = load_run(write_run(tmp_path / "r", "grpo", 0, steps=10, logged=6, state="interrupted"))
    assert "run state is 'interrupted'" in run.problems
    assert "metrics stop at step 6 of 10" in run.problems


def test_bad_middle_line_is_skipped_and_named(tmp_path):
    path = write_run(tmp_path / "r", "grpo", 0, steps=3)
    lines = (path / "metrics.jsonl").read_text().splitlines()
    lines.insert(1, "{not json")
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    run = load_run(path)
    assert [r["step"] for r in run.metrics] == [1, 2, 3]
    assert run.problems == ["metrics.jsonl: line 2 is not valid JSON, skipped"]


def test_duplicate_step_keeps_last_row(tmp_path):
    path = write_run(tmp_path / "r", "grpo", 0, steps=2)
    row = metrics_row("grpo", 0, 2) | {"pass_rate": 0.99}
    with open(path / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    run = load_run(path)
    assert [r["pass_rate"] for r in run.metrics][-1] == 0.99 and len(run.metrics) == 2
    assert any("step 2 logged twice" in n for n in run.notes) and not run.partial


def test_hydra_config_fallback_and_no_config(tmp_path):
    path = write_run(tmp_path / "r", "rrpo", 1, steps=2)
    config = (path / "config.yaml").read_text()
    (path / "config.yaml").unlink()
    (path / ".hydra").mkdir()
    (path / ".hydra" / "config.yaml").write_text(config)
    run = load_run(path)
    assert run.label("agent.name") == "rrpo" and not run.partial
    (path / ".hydra" / "config.yaml").unlink()
    run = load_run(path)
    assert run.label("agent.name") == "unknown"
    assert "no config.yaml (agent and seed unknown)" in run.problems


def test_run_killed_before_first_step(tmp_path):
    path = tmp_path / "r"
    path.mkdir()
    (path / "config.yaml").write_text(yaml.safe_dump({"agent": {"name": "srpo"}, "seed": 0}))
    (path / "metrics.jsonl").write_text("")
    run = load_run(path)
    assert run.metrics == [] and run.last_step == 0 and run.partial
    assert run.missing_metric_keys() == list(REQUIRED_METRIC_KEYS)


def test_read_jsonl_rejects_non_objects(tmp_path):
    file = tmp_path / "x.jsonl"
    file.write_text('{"a": 1}\n[1, 2]\n{"b": NaN}\n')
    rows, problems = read_jsonl(file)
    assert rows[0] == {"a": 1} and len(rows) == 2
    assert problems == ["x.jsonl: line 2 is not a JSON object, skipped"]


def test_eval_rows_without_pass_at_k_are_skipped(tmp_path):
    path = write_run(tmp_path / "r", "grpo", 0, steps=2)
    with open(path / "eval.jsonl", "a") as f:
        f.write(json.dumps({"step": 2, "suite": "basic", "k": 1}) + "\n")
    run = load_run(path)
    assert len(run.evals) == 2
    assert run.problems == ["eval.jsonl: a row lacks a valid pass_at_k, skipped"]


def test_sweep_job_that_failed_at_start_is_listed(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", agents=("grpo",), seeds=(0,), steps=2)
    failed = sweep / "1"
    (failed / ".hydra").mkdir(parents=True)
    (failed / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump({"agent": {"name": "srpo"}, "seed": 1}))
    (failed / "train.log").write_text("ImportError: ...\n")
    found = find_run_dirs([sweep])
    assert [p.name for p in found] == ["0", "1"]
    run = load_run(found[1])
    assert run.label("agent.name") == "srpo" and "no metrics.jsonl" in run.problems
