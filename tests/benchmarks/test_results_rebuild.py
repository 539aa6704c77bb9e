"""Every committed report folder under benchmarks/results/ (one holding summary.json and runs/)
rebuilds from its own runs/ to its committed numbers (issue 25, item 15).

Numbers, not figures: per group and metric the curve's final point (x, mean, se, n), the
speed-ups (point value and 95% CI, unpaired and paired, steps and tokens axes), the baseline's
gain and target, and the final evaluation (pass@k and its CI). Bootstrap CIs are deterministic
(`SpeedupRule.seed`, recorded in the summary's config), so they are compared too. The rebuild
uses the grouping and settings the committed summary.json records in its "config".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from codereset.report.build import ReportConfig, build_report
from codereset.report.speedup import SpeedupRule

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
REL_TOL = 1e-9
FOLDERS = sorted(p.name for p in RESULTS.iterdir()
                 if (p / "summary.json").is_file() and (p / "runs").is_dir())


def _config(committed: dict) -> ReportConfig:
    c = committed["config"]
    sp = c.get("speedup", {})
    rule = SpeedupRule(**{k: sp[k] for k in ("fraction", "n_boot", "seed", "level", "min_seeds")
                          if k in sp})
    return ReportConfig(baseline=c.get("baseline"), group_by=c.get("group_by", "arm"),
                        smooth=c.get("smooth"), title=c.get("title", "report"), speedup=rule,
                        dedupe_seeds=c.get("dedupe_seeds", False))


def numbers(summary: dict) -> dict[str, object]:
    """The summary's headline numbers, flat: {"where": value}."""
    out: dict[str, object] = {}
    for metric, groups in summary.get("curves", {}).items():
        for group, curve in groups.items():
            for key in ("x", "mean", "se", "n"):
                if curve.get(key):
                    out[f"curves/{metric}/{group}/final_{key}"] = curve[key][-1]
    for metric, comp in summary.get("speedups", {}).items():
        gain = comp.get("gain") or {}
        out[f"speedups/{metric}/gain/start"] = gain.get("start")
        out[f"speedups/{metric}/gain/final"] = gain.get("final")
        out[f"speedups/{metric}/gain/value"] = (gain.get("gain") or {}).get("value")
        out[f"speedups/{metric}/gain/ci95"] = (gain.get("gain") or {}).get("ci95")
        out[f"speedups/{metric}/target"] = comp.get("target")
        for kind in ("speedups", "paired"):
            for group, axes in (comp.get(kind) or {}).items():
                for axis, s in axes.items():
                    for key in ("speedup", "ci95", "at", "baseline_at", "n_runs"):
                        out[f"{kind}/{metric}/{group}/{axis}/{key}"] = s.get(key)
    for row in summary.get("eval") or []:
        where = f"eval/{row['group']}/{row['suite']}/{row['split']}/k{row['k']}"
        out[f"{where}/pass_at_k"] = row["pass_at_k"]["mean"]
        out[f"{where}/n"] = row["pass_at_k"].get("n")
        out[f"{where}/ci95"] = row.get("ci95")
    return out


def _equal(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_committed_report_rebuilds(folder, tmp_path):
    root = RESULTS / folder
    committed = json.loads((root / "summary.json").read_text())
    result = build_report([root / "runs"], tmp_path / "report", _config(committed))
    want, got = numbers(committed), numbers(result.summary)
    assert want, f"{folder}: committed summary.json holds no numbers to compare"
    missing = sorted(set(want) - set(got))
    differ = [f"{k}: committed {want[k]!r}, rebuilt {got[k]!r}"
              for k in sorted(set(want) & set(got)) if not _equal(want[k], got[k])]
    assert not missing and not differ, (
        f"{folder} does not rebuild to its committed numbers from its own runs/:\n"
        + "\n".join([f"missing in rebuild: {k}" for k in missing][:20] + differ[:40]))
