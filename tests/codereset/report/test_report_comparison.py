"""Agents against the baseline on the synthetic sweep (formulas in report_fixtures): speed-ups on
both axes, smoothing, pairing, and the per-agent summary block."""

import json

import numpy as np
import pytest

from codereset.report import comparison
from codereset.report.build import group_runs
from codereset.report.runs import load_runs
from codereset.report.speedup import NO_GAIN, SpeedupRule
from report_fixtures import write_run, write_sweep

RULE = SpeedupRule(n_boot=500)


@pytest.fixture(scope="module")
def groups(tmp_path_factory):
    sweep = write_sweep(tmp_path_factory.mktemp("cmp") / "sweep", val_at_start=True)
    return group_runs(load_runs([sweep]), "agent.name")


@pytest.fixture(scope="module")
def paired_groups(tmp_path_factory):
    sweep = write_sweep(tmp_path_factory.mktemp("paired") / "sweep", paired=True)
    return group_runs(load_runs([sweep]), "agent.name")


def test_speedup_known_answer(groups):
    comp = comparison.compare(groups, "grpo", "pass_rate", 1, RULE)
    # grpo per seed 0.1 + 0.03 s + 0.05 t, t = 1..10: mean curve 0.13 + 0.05 t, start 0.18,
    # final 0.63, gain 0.45 in every seed; target 0.405, reached at t = 5.5; srpo (slope 0.1) at
    # 2.75, rrpo (0.0625) at 4.4
    assert comp.gain.significant and comp.target == pytest.approx(0.405)
    at = {g: by["steps"].at for g, by in comp.speedups.items()}
    assert at == pytest.approx({"grpo": 5.5, "rrpo": 4.4, "srpo": 2.75})
    assert comp.speedups["srpo"]["steps"].speedup == pytest.approx(2.0)
    assert comp.speedups["rrpo"]["steps"].speedup == pytest.approx(1.25)
    assert comp.speedups["grpo"]["steps"].speedup == 1.0
    lo, hi = comp.speedups["srpo"]["steps"].ci95
    assert lo < 2.0 < hi
    # tokens: grpo 1010 per step -> 5555 at 5.5; srpo 1310 per step -> 3602.5 at 2.75
    assert comp.speedups["srpo"]["tokens"].at == pytest.approx(3602.5)
    assert comp.speedups["srpo"]["tokens"].speedup == pytest.approx(5555 / 3602.5)
    assert comp.paired == {}  # trainer.paired is false in these runs


def test_speedup_on_smoothed_curves(groups):
    comp = comparison.compare(groups, "grpo", "pass_rate", 2, RULE)
    # 2-step trailing mean: grpo 0.18 at t=1, then 0.13 + 0.05 (t - 0.5): final 0.605, target
    # 0.3925 at t = 5.75; srpo 0.28, 0.38, 0.48 at t = 2, 3, 4: crossing at 3.125
    assert comp.target == pytest.approx(0.3925)
    assert comp.speedups["srpo"]["steps"].at == pytest.approx(3.125)
    assert comp.speedups["srpo"]["steps"].speedup == pytest.approx(5.75 / 3.125)


def test_target_never_reached(groups):
    comp = comparison.compare(groups, "srpo", "pass_rate", 1, RULE)
    # srpo: start 0.23, final 1.13, target 0.68; grpo ends at 0.63
    grpo = comp.speedups["grpo"]["steps"]
    assert grpo.speedup is None and grpo.at is None and "did not reach the target 0.680" in grpo.reason


def test_no_gain_gives_no_speedup(tmp_path):
    for seed in (0, 1, 2):
        for agent in ("grpo", "srpo"):
            path = write_run(tmp_path / f"{agent}{seed}", agent, seed)
            rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
            for row in rows:  # the baseline falls a little; srpo still rises
                if agent == "grpo":
                    row["pass_rate"] = 0.3 - 0.002 * row["step"] + 0.03 * seed
            (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    groups = group_runs(load_runs([tmp_path]), "agent.name")
    comp = comparison.compare(groups, "grpo", "pass_rate", 1, RULE)
    assert not comp.gain.significant and comp.gain.reason.startswith(NO_GAIN)
    assert all(by["steps"].speedup is None and by["tokens"].speedup is None
               for by in comp.speedups.values())
    summary = comparison.agent_summary(groups, {"pass_rate": comp}, RULE)
    assert summary["srpo"]["speedup"] is None
    assert summary["srpo"]["speedup_reason"].startswith(NO_GAIN)


def test_paired_runs_get_a_paired_interval_and_per_seed_differences(paired_groups):
    comp = comparison.compare(paired_groups, "grpo", "pass_rate", 1, RULE)
    # every seed shifts all agents' curves by 0.03 s: a joint resample moves both mean curves and
    # the target alike, so the paired speed-up is exactly 2 in every replicate
    srpo = comp.paired["srpo"]["steps"]
    assert srpo.paired and srpo.speedup == pytest.approx(2.0)
    assert srpo.ci95 == pytest.approx((2.0, 2.0))
    per_seed = comp.per_seed["srpo"]
    assert [p.seed for p in per_seed] == [0, 1, 2]
    # seed s: grpo reaches 0.405 at (0.305 - 0.03 s) / 0.05, srpo at half that
    assert [p.baseline_at for p in per_seed] == pytest.approx([6.1, 5.5, 4.9])
    assert [p.speedup for p in per_seed] == pytest.approx([2.0] * 3)
    assert [p.final_difference for p in per_seed] == pytest.approx([0.5] * 3)  # (0.1 - 0.05) x 10
    assert "grpo" not in comp.paired


def test_pairing_needs_the_flag_on_every_run(paired_groups, groups):
    assert comparison.is_paired(paired_groups["grpo"], paired_groups["srpo"])
    assert not comparison.is_paired(groups["grpo"], groups["srpo"])
    assert not comparison.is_paired(paired_groups["grpo"], groups["srpo"])


def test_agent_summary_block(groups):
    comps = {m: comparison.compare(groups, "grpo", m, 1, RULE) for m in ("pass_rate", "val_pass_rate")}
    summary = comparison.agent_summary(groups, comps, RULE)
    srpo = summary["srpo"]
    assert srpo["seeds"] == [0, 1, 2] and srpo["steps"] == [10]
    val = srpo["val_pass_at_1"]
    # val: step 0 from eval.jsonl 0.05 + 0.03 s (mean 0.08); final 0.13 + 1.0 - 0.05 = 1.08
    assert val["start"]["steps"] == [0] and val["start"]["mean"] == pytest.approx(0.08)
    assert val["final"]["mean"] == pytest.approx(1.08) and val["final"]["n"] == 3
    lo, hi = val["start"]["ci95"]  # a bootstrap mean of 0.05, 0.08, 0.11 stays within their range
    assert 0.05 <= lo < 0.08 < hi <= 0.11 + 1e-12
    # the summary's speed-up is on val pass@1: grpo start 0.08, final 0.58, target 0.33 at step 5
    assert srpo["speedup"]["metric"] == "val_pass_rate"
    assert srpo["speedup"]["value"] == pytest.approx(2.0) and len(srpo["speedup"]["ci95"]) == 2
    assert srpo["speedup_reason"] is None and "paired_speedup" not in srpo
    assert np.isclose(summary["grpo"]["speedup"]["value"], 1.0)
