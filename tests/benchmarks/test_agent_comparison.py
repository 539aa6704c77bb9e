"""benchmarks/agent_comparison.py: its pure parts on hand-made run folders, known answers (the
sweep itself, which trains, is exercised by running the script)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("agent_comparison", ROOT / "benchmarks/agent_comparison.py")
agent_comparison = importlib.util.module_from_spec(_spec)
sys.modules["agent_comparison"] = agent_comparison   # its dataclasses look their module up
_spec.loader.exec_module(agent_comparison)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def heldout(sweep: Path, run: str, value: float) -> None:
    write_jsonl(sweep / run / "heldout" / "eval.jsonl", [{"step": 60, "k": 1, "pass_at_k": value},
                                                         {"step": 60, "k": 4, "pass_at_k": 0.9}])


def test_heldout_table_pairs_each_seed_with_grpos(tmp_path):
    for s, (g, r) in enumerate([(0.10, 0.15), (0.20, 0.20), (0.30, 0.40)]):
        heldout(tmp_path, f"grpo_s{s}", g)
        heldout(tmp_path, f"rrpo_s{s}", r)
    heldout(tmp_path, "srpo_s0", 0.5)                      # one seed: a difference, no interval
    say = agent_comparison.Tee()
    out = agent_comparison.heldout_table(["grpo", "rrpo", "srpo", "caro"], [0, 1, 2], tmp_path, 0.17, say)
    rrpo = out["agents"]["rrpo"]
    assert rrpo["per_seed"] == {0: 0.15, 1: 0.20, 2: 0.40}
    assert rrpo["paired_difference_to_grpo"] == pytest.approx((0.05 + 0.0 + 0.10) / 3)
    lo, hi = rrpo["paired_difference_ci95"]
    assert 0.0 <= lo <= rrpo["paired_difference_to_grpo"] <= hi <= 0.10 + 1e-12   # within the per-seed range
    assert out["agents"]["srpo"]["paired_difference_to_grpo"] == pytest.approx(0.5 - 0.10)
    assert out["agents"]["srpo"]["paired_difference_ci95"] is None
    assert out["agents"]["grpo"]["paired_difference_to_grpo"] is None
    assert "caro" not in out["agents"]                     # no held-out file: no row
    assert any(line.strip().startswith("rrpo") and "minus grpo +0.050" in line for line in say.lines)


def test_val_curve_and_localization_read_the_run_files(tmp_path):
    write_jsonl(tmp_path / "eval.jsonl", [{"step": 0, "k": 1, "pass_at_k": 0.1}, {"step": 0, "k": 4, "pass_at_k": 0.3},
                                          {"step": 5, "k": "1", "pass_at_k": 0.2}])
    write_jsonl(tmp_path / "metrics.jsonl", [{"step": 1, "localization_deviations": [0, 1, -2]},
                                             {"step": 2, "localization_deviations": None},
                                             {"step": 3, "localization_deviations": [0]}])
    assert agent_comparison.val_curve(tmp_path) == [(0, 0.1), (5, 0.2)]
    assert agent_comparison.localization(tmp_path) == {"n": 4, "exact": 0.5, "within_1": 0.75}
    # runs with the watch keys: judged multi-thought seeds, beside h* = 1 and uniform
    write_jsonl(tmp_path / "metrics.jsonl", [{"step": 1, "localization_judged": [[1, 1, 4], [1, 3, 4]],
                                              "reset_seeds_one_thought": 2},
                                             {"step": 2, "localization_judged": [[2, 2, 2]]}])
    loc = agent_comparison.localization(tmp_path)
    assert loc["n"] == 3 and loc["exact"] == pytest.approx(2 / 3) and loc["exact_if_first"] == pytest.approx(1 / 3)
    assert loc["exact_if_uniform"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 2) / 3)
    assert loc["modal_h_share"] == pytest.approx(2 / 3) and loc["one_thought_seeds"] == 2


def test_arms_parse_to_agent_localizer_split_and_their_overrides():
    arm = agent_comparison.parse_arm("rrpo[entropy]-1x8")
    assert (arm.agent, arm.localizer, arm.split, arm.label) == ("rrpo", "entropy", "1x8", "rrpo[entropy]-1x8")
    assert arm.overrides() == ["+agent=rrpo", "buffer.split=1x8", "agent.localizer=entropy"]
    assert agent_comparison.parse_arm("caro").label == "caro"           # 1x4, method.md's split
    assert agent_comparison.parse_arm("caro-1x8").label == "caro-1x8"
    assert agent_comparison.parse_arm("grpo").overrides() == ["+agent=grpo"]
    with pytest.raises(ValueError, match="AGENT"):
        agent_comparison.parse_arm("caro 1x8")


def test_presets_name_known_agents_and_the_model_their_heldout_check_loads():
    from codereset.agents import AGENTS

    for name, preset in agent_comparison.PRESETS.items():
        if preset.heldout:                                 # the held-out check loads model.name
            assert agent_comparison.model_of(preset), name
        assert {agent_comparison.parse_arm(a).agent for a in preset.agents} <= set(AGENTS), name
    args = agent_comparison.parse_args(["--preset", "basic", "--seeds", "3", "--override", "trainer.steps=2"])
    assert (args.preset, args.seeds, args.overrides) == ("basic", [3], ["trainer.steps=2"])
    with pytest.raises(SystemExit):
        agent_comparison.parse_args(["--preset", "no_such_preset"])


def test_requested_steps_is_the_last_override_that_sets_it():
    assert agent_comparison.requested_steps(["trainer.steps=40", "seed=1", "trainer.steps=60"]) == 60
    assert agent_comparison.requested_steps(["seed=1"]) is None


def test_heldout_check_scores_the_runs_own_suite_options_but_not_the_training_set_size():
    preset = agent_comparison.PRESETS["chain"]
    got = agent_comparison.heldout_overrides(preset, ["env.suite_options.critical_depth=2", "+env.suite_options.n=64",
                                                      "trainer.steps=60"])
    assert got[:len(preset.heldout)] == list(preset.heldout)
    assert got[len(preset.heldout):] == ["env.suite_options.critical_depth=2"]


def test_keep_continues_a_finished_run_with_fewer_steps_and_keeps_one_with_enough(tmp_path, monkeypatch):
    calls = []

    class Proc:
        pid = 0

    def popen(cmd, **kw):
        calls.append(cmd)
        return Proc()

    monkeypatch.setattr(agent_comparison.subprocess, "Popen", popen)
    monkeypatch.setattr(agent_comparison.os, "wait4", lambda pid, opt: (pid, 0, type("U", (), {"ru_utime": 0, "ru_stime": 0})))
    monkeypatch.setattr(agent_comparison, "heldout_eval", lambda *a, **k: None)
    preset = agent_comparison.PRESETS["chain"]
    arm = agent_comparison.parse_arm("grpo")
    run = tmp_path / "grpo_s0"
    (run / "checkpoints" / "step_000040").mkdir(parents=True)
    (run / "checkpoints" / "step_000040" / "trainer_state.pt").write_bytes(b"")
    (run / "checkpoints" / "latest").write_text("step_000040")
    (run / "run_status.json").write_text(json.dumps({"state": "finished"}))
    out = agent_comparison.run_job(arm, 0, preset, tmp_path, ["trainer.steps=40"])
    assert out["command"].startswith("(kept") and not calls            # already has 40 steps
    out = agent_comparison.run_job(arm, 0, preset, tmp_path, [])        # the preset asks for 60
    assert out["extended"] and calls[-1][-1] == "trainer.resume=true"
    assert (run / "checkpoints").is_dir()                                 # continued, not wiped
