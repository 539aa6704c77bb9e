"""The whole report on synthetic run directories: files, figures, and table numbers that match
the fixture's formulas (see report_fixtures), plus partial and degenerate inputs."""

import json
import math
import statistics

import pytest

from codereset.report import ReportConfig, build_report
from codereset.report.stats import wilson_interval
from report_fixtures import FINAL_EVAL, N_TASKS, markdown_table, write_run, write_sweep

PNG = b"\x89PNG\r\n\x1a\n"
SEEDS = (0, 1, 2)


def _pm(values, digits):
    """'mean ± se' as the report prints it."""
    se = statistics.stdev(values) / math.sqrt(len(values))
    return f"{statistics.mean(values):.{digits}f} ± {se:.{digits}f}"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    sweep = write_sweep(root / "sweep", oracle=True)
    result = build_report([sweep], root / "out", ReportConfig(smooth=1))
    return result, result.markdown.read_text()


def test_files_and_figures(report):
    result, _ = report
    names = sorted(p.name for p in result.figures)
    assert names == ["compute.png", "final_eval.png", "learning_curves.png",
                     "oracle_panels.png", "reset_diagnostics.png"]
    for fig in result.figures:
        data = fig.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    md = result.markdown.read_text()
    for fig in result.figures:
        assert f"](figures/{fig.name})" in md


def test_html_is_self_contained(report):
    result, _ = report
    page = result.html.read_text()
    assert page.count("src='data:image/png;base64,") == 5
    assert "src='figures/" not in page and "<table>" in page


def test_speedup_table(report):
    _, md = report
    rows = {r["agent"]: r for r in markdown_table(md, "Speed-up") if r["metric"] == "pass_rate"}
    assert rows["srpo"]["step to target"] == "5" and rows["srpo"]["speed-up (steps)"] == "2.00x"
    assert rows["rrpo"]["step to target"] == "8" and rows["rrpo"]["speed-up (steps)"] == "1.25x"
    assert rows["grpo"]["target"] == "0.630"
    assert rows["srpo"]["generated tokens to target"] == "6,550"
    assert rows["srpo"]["speed-up (tokens)"] == f"{10100 / 6550:.2f}x"


def test_compute_tables_hold_metrics_numbers(report):
    _, md = report
    time = {r["agent"]: r for r in markdown_table(md, "Wall time per step")}
    generate = [2 + 0.5 * s for s in SEEDS]
    assert time["srpo"]["generate s/step"] == _pm(generate, 2)
    assert time["srpo"]["localize s/step"] == "0.50 ± 0.00"
    assert time["grpo"]["validate s/step"] == "0.20 ± 0.00"  # 0.4 s on every second step
    assert time["grpo"]["total s/step"] == _pm([g + 4.35 for g in generate], 2)
    assert time["grpo"]["wall time s"] == _pm([10 * (g + 4.35) for g in generate], 1)
    tokens = {r["agent"]: r for r in markdown_table(md, "Tokens per step")}
    assert tokens["rrpo"]["seed search"] == "300 ± 0"
    assert tokens["srpo"]["localization"] == "100 ± 0"
    assert tokens["srpo"]["generated (all)"] == _pm([1300 + 10 * s for s in SEEDS], 0)
    assert tokens["rrpo"]["prefix reused"] == "400 ± 0"
    totals = {r["agent"]: r for r in markdown_table(md, "Totals and throughput")}
    assert totals["grpo"]["generated tokens (total)"] == _pm([10 * (1000 + 10 * s)
                                                              for s in SEEDS], 0)
    assert totals["grpo"]["generation tok/s"] == _pm([(1000 + 10 * s) / (2 + 0.5 * s)
                                                      for s in SEEDS], 1)
    assert totals["srpo"]["mean response tokens"] == _pm([100 + 10 * s for s in SEEDS], 1)


def test_reset_table_weights_by_group_count(report):
    _, md = report
    rows = {r["agent"]: r for r in markdown_table(md, "Reset diagnostics")}
    assert set(rows) == {"rrpo", "srpo"}  # grpo makes no reset groups
    # srpo: odd steps 3 groups (signal 1.0, correction 1/3), even steps 1 group (0, 1.0)
    assert rows["srpo"]["reset groups"] == "20.0 ± 0.0"
    assert rows["srpo"]["groups with signal"] == "0.750 ± 0.000"  # (15*1 + 5*0) / 20
    assert rows["srpo"]["correction rate"] == "0.500 ± 0.000"     # (15*1/3 + 5*1) / 20
    assert rows["srpo"]["reset position h*/n"] == "0.600 ± 0.000"
    assert rows["srpo"]["parse failures"] == "1.0 ± 0.0"
    assert rows["srpo"]["parse failures / reset groups"] == "0.050 ± 0.000"  # 1 of 20
    assert rows["rrpo"]["reset position h*/n"] == "0.500 ± 0.000"


def test_oracle_table(report):
    _, md = report
    row = {r["agent"]: r for r in markdown_table(md, "Localization vs the oracle")}["srpo"]
    # deviations: odd steps [-1, 0, 2], even steps [0] -> 20 values, sum 5, |.| sum 15
    assert row["deviation h*-h_oracle"] == "0.25 ± 0.00"
    assert row["abs deviation"] == "0.75 ± 0.00"
    assert row["share exact"] == "0.500 ± 0.000"
    assert row["share clean"] == "0.750 ± 0.000"
    assert row["correction clean"] == "0.667 ± 0.000"   # (10*0.5 + 5*1.0) / 15
    assert row["correction erroneous"] == "0.000 ± 0.000"
    assert row["suffix pass@4 clean"] == "0.300 ± 0.000"
    assert row["suffix pass@4 erroneous"] == "0.100 ± 0.000"


def test_eval_table_uses_final_step(report):
    _, md = report
    rows = {r["agent"]: r for r in markdown_table(md, "Final evaluation")}
    finals = [FINAL_EVAL["srpo"] + 0.02 * s for s in SEEDS]
    assert rows["srpo"]["step"] == "10"
    assert rows["srpo"]["pass@k (± SE over runs)"] == _pm(finals, 3)
    lo, hi = wilson_interval(statistics.mean(finals), N_TASKS)
    assert rows["srpo"]["95% CI (Wilson, tasks)"] == f"[{lo:.3f}, {hi:.3f}]"
    assert rows["srpo"]["tasks"] == str(N_TASKS) and rows["srpo"]["runs"] == "3"


def test_summary_json_matches_tables(report):
    result, _ = report
    summary = json.loads(result.summary_path.read_text())
    assert summary["partial_runs"] == [] and summary["missing_metric_keys"] == {}
    assert summary["compute"]["tokens"]["rrpo"]["tokens_seed_search"]["mean"] == 300
    srpo = next(s for s in summary["speedups"]
                if s["label"] == "srpo" and s["metric"] == "pass_rate")
    assert srpo["step"] == 5 and srpo["speedup"] == pytest.approx(2.0)
    assert summary["curves"]["pass_rate"]["grpo"]["n"] == [3] * 10


def test_partial_runs_render_and_are_named(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", steps=6)
    write_run(tmp_path / "killed" / "a", "srpo", 7, steps=6, logged=2, state=None,
              with_eval=False, truncate_last=True)
    write_run(tmp_path / "killed" / "b", "grpo", 8, steps=6, logged=4, state="interrupted")
    result = build_report([sweep, tmp_path / "killed"], tmp_path / "out")
    md = result.markdown.read_text()
    assert "Partial runs (2 of 11)" in md
    assert "- killed/a (srpo, seed 7): metrics.jsonl: last line truncated" in md
    assert "- killed/b (grpo, seed 8): run state is 'interrupted'; metrics stop at step 4 of 6" \
        in md
    runs = {r["run"]: r for r in markdown_table(md, "Runs read")}
    assert runs["killed/a"]["steps"] == "2/6" and runs["killed/a"]["state"] == "unknown"
    assert runs["sweep/0"]["status"] == "complete"
    assert "Runs without evaluation rows (not in the table): killed/a (srpo)" in md
    assert result.summary["curves"]["pass_rate"]["srpo"]["n"] == [4, 4, 3, 3, 3, 3]
    assert result.html.read_text().count("data:image/png;base64,") == len(result.figures)


def test_grpo_only_without_eval_or_oracle(tmp_path):
    for seed in (0, 1):
        write_run(tmp_path / f"g{seed}", "grpo", seed, steps=3, with_eval=False)
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "oracle_panels.png").write_bytes(PNG)  # stale, from an earlier report
    result = build_report([tmp_path], out)
    md = result.markdown.read_text()
    assert "No run made reset groups" in md
    assert "No eval.jsonl rows in these runs" in md
    assert sorted(p.name for p in result.figures) == ["compute.png", "learning_curves.png"]
    assert not (out / "figures" / "oracle_panels.png").exists()


def test_run_killed_before_its_first_step(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.jsonl").write_text("")
    result = build_report([tmp_path / "r"], tmp_path / "out")
    md = result.markdown.read_text()
    assert "No run logged a pass rate yet" in md
    assert "No run logged a step yet: nothing to show." in md
    assert "no config.yaml" in md and "Partial runs (1 of 1)" in md
    assert "Contract fields absent from metrics.jsonl" not in md  # no rows: nothing to judge


def test_missing_contract_fields_are_listed(tmp_path):
    path = write_run(tmp_path / "r", "grpo", 0, steps=2)
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        del row["tokens_generated"], row["time_step_s"]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = build_report([path], tmp_path / "out")
    md = result.markdown.read_text()
    assert ("Contract fields absent from metrics.jsonl: tokens_generated (in 1 of 1 runs), "
            "time_step_s (in 1 of 1 runs)") in md
    # generated tokens fall back to the sum of the kinds
    tokens = markdown_table(md, "Tokens per step")[0]
    assert tokens["generated (all)"] == "1000"


def test_baseline_killed_before_first_step_gives_no_speedup(tmp_path):
    write_run(tmp_path / "s", "srpo", 0, steps=3)
    write_run(tmp_path / "g", "grpo", 0, steps=3, logged=0, state=None, with_eval=False)
    result = build_report([tmp_path], tmp_path / "out")
    md = result.markdown.read_text()
    assert "No speed-up: the baseline grpo has no pass-rate curve." in md
    assert result.summary["speedups"] == []
    assert "<code>agent.name</code>" in result.html.read_text()


def test_correction_by_deviation_from_samples(report):
    result, md = report
    rows = {r["agent"]: r for r in markdown_table(md, "Correction rate by deviation")}
    # srpo per run: 5 groups at -1 (corrected), 10 at 0 (half corrected), 5 at +2 (none)
    assert rows["srpo"]["-1"] == "1.000 (15/15)"
    assert rows["srpo"]["0"] == "0.500 (15/30)"
    assert rows["srpo"]["+2"] == "0.000 (0/15)" and rows["srpo"]["+1"] == "—"
    assert rows["rrpo"]["+1"] == "0.500 (15/30)"
    assert result.summary["oracle_by_deviation"]["srpo"][-1]["groups"] == 15
