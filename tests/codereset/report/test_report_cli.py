"""`python -m codereset.report SWEEP_OR_RUN_DIRS... --out DIR`."""

import json
import subprocess
import sys
from pathlib import Path

from codereset.report.__main__ import main
from report_fixtures import write_run, write_sweep

ROOT = Path(__file__).resolve().parents[3]


def test_module_entry_point_writes_report(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", agents=("grpo", "srpo"), seeds=(0, 1), steps=4)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "codereset.report", str(sweep), "--out",
                           str(out), "--smooth", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "read 4 run(s) (0 partial) in 2 group(s)" in proc.stdout
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert "trailing mean over 2 step(s)" in (out / "report.md").read_text()


def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    run = write_run(tmp_path / "r", "srpo", 0, steps=2)
    assert main([str(run), "--out", str(tmp_path / "o"), "--baseline", "grpo"]) == 2
    assert "baseline 'grpo' is not a group of these runs; groups: ['srpo']" in \
        capsys.readouterr().err
    assert main([str(run), "--out", str(tmp_path / "o"), "--smooth", "0"]) == 2
    assert "smooth must be >= 1" in capsys.readouterr().err


def test_group_by_another_config_key(tmp_path, capsys):
    write_run(tmp_path / "a", "srpo", 0, steps=2, suite="basic")
    write_run(tmp_path / "b", "srpo", 0, steps=2, suite="stdio")
    assert main([str(tmp_path), "--out", str(tmp_path / "o"), "--group-by", "env.tasks"]) == 0
    md = (tmp_path / "o" / "report.md").read_text()
    assert "grouped by config key `env.tasks` (basic: 1 run(s), stdio: 1 run(s))" in md
    assert "Baseline for speed-ups: basic" in md


def test_repeated_seeds_are_refused_naming_the_runs_or_deduplicated(tmp_path, capsys):
    """Issue 25 item 2: three GRPO runs of seed 0 are one sample, not three."""
    write_run(tmp_path / "runs" / "a", "grpo", 0, steps=4)
    write_run(tmp_path / "runs" / "b", "grpo", 0, steps=4, logged=2, state="interrupted")
    write_run(tmp_path / "runs" / "c", "grpo", 1, steps=4)
    out = tmp_path / "o"
    assert main([str(tmp_path / "runs"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "group grpo has seed 0 in 2 runs (a, b)" in err and "--dedupe-seeds" in err
    assert not (out / "summary.json").exists()
    assert main([str(tmp_path / "runs"), "--out", str(out), "--dedupe-seeds"]) == 0
    assert "read 2 run(s)" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert [Path(p).name for p in summary["groups"]["grpo"]] == ["a", "c"]   # the longer seed-0 run
    assert [Path(p).name for p in summary["dropped_repeated_seeds"]] == ["b"]
    assert "Repeated seeds (--dedupe-seeds): 1 run(s) left out" in (out / "report.md").read_text()


def test_summary_paths_are_relative_to_the_report_folder(tmp_path):
    """Issue 25 item 15: a committed result folder (report beside runs/) holds no machine's paths."""
    result_dir = tmp_path / "result"
    write_run(result_dir / "runs" / "grpo_s0", "grpo", 0, steps=4)
    write_run(result_dir / "runs" / "srpo_s0", "srpo", 0, steps=4, logged=2, state="interrupted")
    assert main([str(result_dir / "runs"), "--out", str(result_dir)]) == 0
    text = (result_dir / "summary.json").read_text()
    assert str(tmp_path) not in text
    summary = json.loads(text)
    assert summary["groups"] == {"grpo": ["runs/grpo_s0"], "srpo": ["runs/srpo_s0"]}
    assert summary["partial_runs"] == ["runs/srpo_s0"]
    assert sorted(r["path"] for r in summary["runs"]) == ["runs/grpo_s0", "runs/srpo_s0"]
