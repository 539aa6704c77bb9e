"""The agents compared against the baseline, as data: per metric, the baseline's gain check, each
group's speed-up in steps and in generated tokens (unpaired, and paired where the runs are paired),
the per-seed paired differences, and the per-agent block of `summary.json`.

Runs are *paired* when every run of both groups says `trainer.paired: true` in its config and
they share seeds: runs with one seed then saw the same prompts and base-group random stream, so the
interval resamples seeds jointly and per-seed differences mean something. The speed-up rule itself
lives in `codereset.report.speedup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codereset.report import aggregate as agg
from codereset.report import speedup as su
from codereset.report.runs import Run

AXES = ("steps", "tokens")


@dataclass
class MetricComparison:
    """One metric across groups. sets: each group's runs as arrays; gain: the baseline's check;
    speedups: group -> axis -> unpaired speed-up; paired: group -> axis -> paired speed-up (paired
    groups only); per_seed: group -> paired per-seed differences."""

    metric: str
    baseline: str
    sets: dict[str, su.CurveSet]
    gain: su.GainCheck
    target: float | None
    speedups: dict[str, dict[str, su.SpeedUp]] = field(default_factory=dict)
    paired: dict[str, dict[str, su.SpeedUp]] = field(default_factory=dict)
    per_seed: dict[str, list[su.PairedSeed]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"metric": self.metric, "baseline": self.baseline, "gain": self.gain.as_dict(),
                "target": self.target,
                "speedups": {g: {a: s.as_dict() for a, s in by.items()} for g, by in self.speedups.items()},
                "paired": {g: {a: s.as_dict() for a, s in by.items()} for g, by in self.paired.items()},
                "per_seed": {g: [p.as_dict() for p in ps] for g, ps in self.per_seed.items()}}


def is_paired(a: list[Run], b: list[Run]) -> bool:
    """Both groups' runs all say `trainer.paired: true` and they share a seed."""
    runs = a + b
    return (bool(runs) and all(r.get("trainer.paired") is True for r in runs)
            and bool({str(r.seed) for r in a} & {str(r.seed) for r in b}))


def _baseline_mark(sets, baseline: str, target: float | None, axis: str, metric: str) -> su.SpeedUp:
    base = sets[baseline]
    at = su.crossing(*base.mean_curve(None, axis), target) if target is not None else None
    return su.SpeedUp(baseline, metric, axis, target, at, at, 1.0 if at else None, None,
                      None if at else "the baseline", False, base.n_runs)


def compare(groups: dict[str, list[Run]], baseline: str, metric: str, smooth: int,
            rule: su.SpeedupRule) -> MetricComparison | None:
    """The comparison of `metric` (None when no group logged it; no speed-ups when the baseline
    did not)."""
    sets = {g: cs for g, rs in groups.items() if (cs := agg.curve_set(rs, metric, smooth)) is not None}
    if not sets:
        return None
    if baseline not in sets:
        gain = su.GainCheck(float("nan"), float("nan"), su.Interval(None), False,
                            f"{su.NO_GAIN}: the baseline {baseline} has no '{metric}' values")
        return MetricComparison(metric, baseline, sets, gain, None)
    base = sets[baseline]
    gain = su.gain_check(base, rule, baseline)
    target = su.target_of(base, None, rule.fraction) if gain.significant else None
    out = MetricComparison(metric, baseline, sets, gain, target)
    for g, cs in sets.items():
        if g == baseline and gain.significant:
            out.speedups[g] = {a: _baseline_mark(sets, baseline, target, a, metric) for a in AXES}
            continue
        out.speedups[g] = {a: su.speedup(base, cs, rule, g, metric, a, gain, False, baseline) for a in AXES}
        if g != baseline and is_paired(groups[baseline], groups[g]):
            out.paired[g] = {a: su.speedup(base, cs, rule, g, metric, a, gain, True, baseline) for a in AXES}
            out.per_seed[g] = su.paired_seeds(base, cs, target)
    return out


def _value_block(cs: su.CurveSet | None, rule: su.SpeedupRule) -> dict:
    """start and final value over a group's runs: mean, 95% bootstrap CI over seeds, the steps."""
    if cs is None:
        return {"start": None, "final": None}
    starts, finals = cs.start_final()
    out = {}
    for name, values, pick in (("start", starts, 0), ("final", finals, -1)):
        steps = sorted({int(cs.x[np.flatnonzero(np.isfinite(row))[pick]]) for row in cs.values
                        if np.isfinite(row).any()})
        est = su.bootstrap_mean(values, rule)
        out[name] = {"mean": est.value, "ci95": None if est.ci95 is None else list(est.ci95),
                     "n": est.n, "steps": steps, **({"note": est.reason} if est.reason else {})}
    return out


def agent_summary(groups: dict[str, list[Run]], comparisons: dict[str, MetricComparison],
                  rule: su.SpeedupRule) -> dict:
    """summary.json's per-agent block: seeds, steps, start/final val pass@1 with CIs, and the
    speed-up (val pass@1 when validated, else the train pass rate) with its CI or null + reason."""
    main = comparisons.get(agg.VAL_KEY) or comparisons.get("pass_rate")
    val = comparisons.get(agg.VAL_KEY)
    out = {}
    for g, runs in groups.items():
        entry = {"seeds": [r.seed for r in runs], "steps": sorted({r.last_step for r in runs}),
                 "val_pass_at_1": _value_block(val.sets.get(g) if val else None, rule)}
        if main is None or g not in main.speedups:
            entry["speedup"] = None
            entry["speedup_reason"] = "no pass-rate values for this agent"
        else:
            steps, tokens = main.speedups[g]["steps"], main.speedups[g]["tokens"]
            entry["speedup"] = None if steps.speedup is None else {
                "metric": main.metric, "value": steps.speedup,
                "ci95": None if steps.ci95 is None else list(steps.ci95), "target": steps.target}
            entry["speedup_reason"] = steps.reason
            entry["token_speedup"] = None if tokens.speedup is None else {
                "value": tokens.speedup, "ci95": None if tokens.ci95 is None else list(tokens.ci95)}
            if g in main.paired:
                p = main.paired[g]["steps"]
                entry["paired_speedup"] = None if p.speedup is None else {
                    "value": p.speedup, "ci95": None if p.ci95 is None else list(p.ci95), "n_pairs": p.n_runs}
                entry["paired_reason"] = p.reason
        out[g] = entry
    return out
