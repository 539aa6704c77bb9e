"""benchmarks/reset_map.py: the LM-folder reader on hand-built result folders (depth from the runs'
configs, the report's main metric, paired before unpaired, never-reached arms kept, the exact
share), the closed-form helper, and re-drawing the map from a stored prediction."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location("reset_map", ROOT / "benchmarks/reset_map.py")
reset_map = importlib.util.module_from_spec(_spec)
sys.modules["reset_map"] = reset_map  # its dataclasses look their module up
_spec.loader.exec_module(reset_map)


def sp(value, ci=None, reason=None) -> dict:
    return {"steps": {"speedup": value, "ci95": ci, "reason": reason},
            "tokens": {"speedup": None if value is None else value / 2, "ci95": None, "reason": reason}}


def stat(mean) -> dict:
    return {"mean": mean, "se": 0.01, "n": 2}


def make_folder(root: Path, depth: int | list[int], with_val: bool = True) -> Path:
    arms = {"grpo": 2, "caro-1x8": 2, "srpo-1x8": 2, "rrpo-1x8": 2}
    depths = depth if isinstance(depth, list) else [depth] * 8
    for k, (arm, seed) in enumerate((a, s) for a in arms for s in range(2)):
        run = root / "runs" / f"{arm}_s{seed}"
        run.mkdir(parents=True)
        run.joinpath("config.yaml").write_text(
            f"seed: {seed}\nenv:\n  tasks: chain\n  suite_options:\n    critical_depth: {depths[k]}\n    'n': 64\n")
    paired_block = {"caro-1x8": sp(1.8, [1.1, 2.6]),
                    "srpo-1x8": sp(None, reason="did not reach the target 0.670 within 40 steps")}
    main = {"gain": {"significant": True}, "speedups": {"rrpo-1x8": sp(0.7, [0.5, 1.2]),
                                                        "caro-1x8": sp(9.0, [9.0, 9.0])},  # unpaired: not used
            "paired": paired_block}
    train = {"gain": {"significant": True}, "speedups": {}, "paired": {"caro-1x8": sp(5.0, [4.0, 6.0])}}
    summary = {"config": {"baseline": "grpo", "title": "hand-built"},
               "groups": {a: [{}] * n for a, n in arms.items()},
               "speedups": {"pass_rate": train} | ({"val_pass_rate": main} if with_val else {}),
               "oracle": {"grpo": {"exact": stat(None)},
                          "caro-1x8": {"exact": stat(1.0), "exact_if_uniform": stat(0.15), "answered_last": stat(0.0)},
                          "srpo-1x8": {"exact": stat(0.04), "exact_if_uniform": stat(0.15), "answered_last": stat(0.7)},
                          "rrpo-1x8": {"exact": stat(0.13), "exact_if_uniform": stat(0.15), "answered_last": stat(0.15)}}}
    root.joinpath("summary.json").write_text(json.dumps(summary))
    return root


def test_reader_takes_depth_main_metric_paired_speedups_and_exact_share(tmp_path):
    out = reset_map.read_lm_folder(make_folder(tmp_path / "lm", 3))
    assert (out["depth"], out["metric"], out["baseline_gain_significant"]) == (3, "val_pass_rate", True)
    assert sorted(out["arms"]) == ["caro-1x8", "rrpo-1x8", "srpo-1x8"]  # the baseline is left out
    caro, srpo, rrpo = (out["arms"][a] for a in ("caro-1x8", "srpo-1x8", "rrpo-1x8"))
    assert caro["speedup"]["steps"] == {"value": 1.8, "ci95": [1.1, 2.6], "reason": None, "paired": True}
    assert caro["speedup"]["tokens"]["value"] == 0.9
    assert rrpo["speedup"]["steps"]["paired"] is False and rrpo["speedup"]["steps"]["value"] == 0.7
    assert (caro["exact"], srpo["exact"], srpo["answered_last"], rrpo["exact_if_uniform"]) == (1.0, 0.04, 0.7, 0.15)
    # the arm that never reached the target is kept, and read as such
    assert srpo["speedup"]["steps"]["value"] is None
    assert reset_map.never(srpo, "steps") and not reset_map.never(caro, "steps")
    assert reset_map._cell(srpo, "steps") == "never" and reset_map._cell(caro, "steps") == "1.80 [1.10, 2.60]"


def test_reader_falls_back_to_the_train_pass_rate_without_validation(tmp_path):
    out = reset_map.read_lm_folder(make_folder(tmp_path / "lm", 5, with_val=False))
    assert out["metric"] == "pass_rate" and out["arms"]["caro-1x8"]["speedup"]["steps"]["value"] == 5.0
    assert out["arms"]["rrpo-1x8"]["speedup"]["steps"]["reason"] == "no speed-up in summary.json"
    assert not reset_map.never(out["arms"]["rrpo-1x8"], "steps")  # no number, but not "never reached"


def test_runs_that_disagree_on_the_depth_are_refused(tmp_path):
    with pytest.raises(ValueError, match="disagree on env.suite_options.critical_depth"):
        reset_map.read_lm_folder(make_folder(tmp_path / "lm", [5] * 7 + [2]))


def test_expected_std_of_two_fair_coins():
    assert reset_map.expected_std(2, 0.5) == pytest.approx(0.25)  # std 1/2 when they differ (prob 1/2)
    assert reset_map.expected_std(8, 1.0) == pytest.approx(0.0)


def test_map_redraws_from_a_stored_prediction_with_lm_points(tmp_path):
    reset_map.main(["--smoke", "--out", str(tmp_path / "tab")])
    stored = json.loads((tmp_path / "tab" / "results.json").read_text())
    assert set(stored["tabular"]["depths"]) == {"1", "5"}
    lm = make_folder(tmp_path / "lm", 5)
    reset_map.main(["--tabular", str(tmp_path / "tab" / "results.json"), "--lm", str(lm), "--out", str(tmp_path / "map")])
    redrawn = json.loads((tmp_path / "map" / "results.json").read_text())
    assert redrawn["tabular"] == stored["tabular"] and len(redrawn["lm"]) == 1
    last = (tmp_path / "map" / "output.txt").read_text().strip().splitlines()[-1]
    assert last.startswith("reset_map: tabular caro-1x8 d1=") and last.endswith("lm_points=3")
    assert (tmp_path / "map" / "reset_map.png").stat().st_size > 10_000
