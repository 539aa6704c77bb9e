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
    rows = {r["agent"]: r for r in markdown_table(md, "Speed-up on `pass_rate`")}
    # target 0.405 (half of grpo's gain 0.18 -> 0.63): grpo at 5.5, rrpo 4.4, srpo 2.75
    assert rows["srpo"]["step at target"] == "2.8"
    assert rows["srpo"]["speed-up (steps) [95% CI]"].startswith("2.00x [")
    assert rows["rrpo"]["speed-up (steps) [95% CI]"].startswith("1.25x [")
    assert rows["grpo"]["speed-up (steps) [95% CI]"] == "1.00x"
    assert rows["srpo"]["generated tokens at target"] == "3,602"  # 2.75 steps x 1310
    assert rows["srpo"]["speed-up (tokens) [95% CI]"].startswith(f"{5555 / 3602.5:.2f}x [")
    assert "Target: 0.405 (50% of grpo's gain)" in md


def test_eval_table_numbers(report):
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
    srpo = summary["speedups"]["pass_rate"]["speedups"]["srpo"]["steps"]
    assert srpo["at"] == pytest.approx(2.75) and srpo["speedup"] == pytest.approx(2.0)
    assert summary["curves"]["pass_rate"]["grpo"]["n"] == [3] * 10
    assert summary["agents"]["srpo"]["speedup"]["metric"] == "val_pass_rate"
    assert summary["agents"]["srpo"]["seeds"] == [0, 1, 2]


def test_default_smoothing_is_capped_at_a_quarter_of_the_run(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", agents=("grpo",), seeds=(0, 1), steps=6)
    result = build_report([sweep], tmp_path / "out")
    assert result.summary["config"]["smooth"] == 1  # 6 // 4
    long = write_sweep(tmp_path / "long", agents=("grpo",), seeds=(0,), steps=24)
    assert build_report([long], tmp_path / "o2").summary["config"]["smooth"] == 5
    assert build_report([long], tmp_path / "o3", ReportConfig(smooth=7)).summary["config"]["smooth"] == 7


def test_no_gain_to_compare_is_said(tmp_path):
    for seed in (0, 1, 2):
        for agent in ("grpo", "srpo"):
            path = write_run(tmp_path / f"{agent}{seed}", agent, seed, steps=8)
            rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
            for row in rows:  # the baseline stays flat on both pass rates; srpo still rises
                if agent == "grpo":
                    row["pass_rate"] = 0.3
                    if "val_pass_rate" in row:
                        row["val_pass_rate"] = 0.3
            (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = build_report([tmp_path], tmp_path / "out")
    md = result.markdown.read_text()
    assert "Speed-up: no gain to compare: grpo did not gain significantly (start 0.300, final 0.300" in md
    assert "Speed-up on `pass_rate`" not in md
    assert result.summary["agents"]["srpo"]["speedup"] is None
    assert result.summary["agents"]["srpo"]["speedup_reason"].startswith("no gain to compare")


def test_any_set_of_agents_and_token_kinds(tmp_path):
    for i, agent in enumerate(("grpo", "critique_grpo", "vineppo", "agent_x", "agent_y")):
        path = write_run(tmp_path / agent, "grpo", 0, steps=4)
        config = (path / "config.yaml").read_text().replace("name: grpo", f"name: {agent}")
        (path / "config.yaml").write_text(config)
        rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
        for row in rows:
            row[f"tokens_kind{i}"] = 7 * (i + 1)
            row["time_critique_s"] = 0.25
        (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = build_report([tmp_path], tmp_path / "out")
    md = result.markdown.read_text()
    tokens = {r["agent"]: r for r in markdown_table(md, "Tokens per step")}
    assert list(tokens) == ["grpo", "critique_grpo", "vineppo", "agent_x", "agent_y"]
    assert tokens["agent_y"]["kind4"] == "35" and tokens["grpo"]["kind4"] == "—"
    time = markdown_table(md, "Wall time per step")[0]
    assert time["critique s/step"] == "0.25" and "checkpoint s/step" not in time
    from codereset.report.plots import agent_colors
    colors = agent_colors(["grpo", "critique_grpo"] + [f"a{i}" for i in range(30)])
    assert len(set(colors.values())) == 32


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
    assert "Speed-up: no gain to compare: the baseline grpo has no 'pass_rate' values." in md
    assert result.summary["agents"]["srpo"]["speedup"] is None
    assert "<code>arm</code>" in result.html.read_text()


def test_correction_by_deviation_from_samples(report):
    result, md = report
    rows = {r["agent"]: r for r in markdown_table(md, "Correction rate by deviation")}
    # srpo per run: 5 groups at -1 (corrected), 10 at 0 (half corrected), 5 at +2 (none)
    assert rows["srpo"]["-1"] == "1.000 (15/15)"
    assert rows["srpo"]["0"] == "0.500 (15/30)"
    assert rows["srpo"]["+2"] == "0.000 (0/15)" and rows["srpo"]["+1"] == "—"
    assert rows["rrpo"]["+1"] == "0.500 (15/30)"
    assert result.summary["oracle_by_deviation"]["srpo"][-1]["groups"] == 15


def test_reset_table_shows_localizer_failures_and_budget_outs_per_reset_group(report):
    _, md = report
    rows = {r["agent"]: r for r in markdown_table(md, "Reset diagnostics (mean")}
    parse = float(rows["srpo"]["parse failures / reset groups"].split(" ")[0])
    budget = float(rows["srpo"]["budget-outs / reset groups"].split(" ")[0])
    assert parse > 0 and budget == pytest.approx(2 * parse, abs=1e-3)   # 2 budget-outs vs 1 failure
    assert float(rows["rrpo"]["budget-outs / reset groups"].split(" ")[0]) == 0.0
