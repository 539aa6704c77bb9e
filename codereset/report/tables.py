"""The report's numbers, per group (agent): computed as plain data (for `summary.json`) and
formatted as `Table`s. Every figure is a mean +- standard error over the group's runs of a per-run
value, so seeds weigh equally whatever their length.

- compute: wall time per step by phase (every `time_<phase>_s` key the runs wrote), tokens per
  step by kind (every `tokens_<kind>` key: trained, seed search, localization, critique,
  refinement, Monte-Carlo values, ...), generation tokens/s, mean response length, totals.
- resets: normalized reset position h*/n, share of reset groups with reward signal, correction
  rate (per run weighted by the number of reset groups in each step).
- oracle: localization deviation h* - h_oracle, shares exact / within one, and correction rate /
  suffix pass@4 for clean (h* <= h_oracle) versus erroneous prefixes, weighted by each kind's
  group count per step; the same against the Monte-Carlo first error (mc_* keys).
- eval: final pass@k per suite (last evaluated step of each run), with a Wilson 95% interval
  over the suite's tasks.
"""

from __future__ import annotations

import math
import os
from typing import Callable

from codereset.report import aggregate as agg
from codereset.report.document import Table
from codereset.report.runs import Run, is_number
from codereset.report.stats import MeanSE, mean_se, wilson_interval

Groups = dict[str, list[Run]]

# (key in the summary, column header, per-run function, decimals)
_Col = tuple[str, str, Callable[[Run], float], int]

#: Phases and token kinds shown first, in this order; any other `time_<phase>_s` /
#: `tokens_<kind>` key the runs wrote follows alphabetically (read generically, never a fixed list).
PHASE_ORDER = ("generate", "verify", "localize", "train", "validate")
KIND_ORDER = ("trained", "seed_search", "localization")


def _ordered(found: set[str], first: tuple[str, ...]) -> list[str]:
    return [k for k in first if k in found] + sorted(found - set(first))


def time_phases(groups: Groups) -> list[tuple[str, str]]:
    """(key, name) of every `time_<phase>_s` key the runs wrote, except the step total."""
    found = {k[len("time_"):-len("_s")] for rs in groups.values() for r in rs for row in r.metrics
             for k, v in row.items() if k.startswith("time_") and k.endswith("_s") and k != "time_step_s"
             and is_number(v)}
    return [(f"time_{p}_s", p.replace("_", " ")) for p in _ordered(found, PHASE_ORDER)]


def token_kinds(groups: Groups) -> list[tuple[str, str]]:
    """(key, name) of every generated `tokens_<kind>` key the runs wrote."""
    found = {k[len("tokens_"):] for rs in groups.values() for r in rs
             for k in agg.token_kinds(r.metrics)}
    return [(f"tokens_{k}", k.replace("_", " ")) for k in _ordered(found, KIND_ORDER)]


def time_columns(groups: Groups) -> list[_Col]:
    return ([(key, f"{name} s/step", agg.run_mean(key), 2) for key, name in time_phases(groups)]
            + [("time_step_s", "total s/step", agg.run_mean("time_step_s"), 2),
               ("wall_time_s", "wall time s", agg.run_sum("time_step_s"), 1)])


def _generated_per_step(run: Run) -> float:
    return mean_se(agg.generated_tokens(r) for r in run.metrics).mean


def _generated_total(run: Run) -> float:
    values = [t for t in map(agg.generated_tokens, run.metrics) if math.isfinite(t)]
    return float(sum(values)) if values else math.nan


def _skipped(run: Run) -> float:
    if not run.metrics:
        return math.nan
    return float(sum(1 for r in run.metrics if r.get("skipped_update") is True))


def token_columns(groups: Groups) -> list[_Col]:
    return ([(key, name, agg.run_mean(key), 0) for key, name in token_kinds(groups)]
            + [("tokens_generated", "generated (all)", _generated_per_step, 0),
               ("tokens_prefix_reused", "prefix reused", agg.run_mean("tokens_prefix_reused"), 0)])


THROUGHPUT_COLUMNS: list[_Col] = [
    ("steps", "steps", lambda r: float(r.last_step), 1),
    ("generated_tokens_total", "generated tokens (total)", _generated_total, 0),
    ("generation_tokens_per_s", "generation tok/s", agg.run_tokens_per_second, 1),
    ("mean_response_tokens", "mean response tokens", agg.run_mean("mean_response_tokens"), 1),
    ("skipped_updates", "skipped updates", _skipped, 1),
]


def fmt(stat: MeanSE, digits: int = 3) -> str:
    """'mean ± se' ('mean' alone with one run, '—' with none)."""
    if stat.n == 0 or not math.isfinite(stat.mean):
        return "—"
    if not math.isfinite(stat.se):
        return f"{stat.mean:.{digits}f}"
    return f"{stat.mean:.{digits}f} ± {stat.se:.{digits}f}"


def _summary(groups: Groups, columns: list[_Col]) -> dict[str, dict[str, MeanSE]]:
    return {label: {key: agg.per_run(runs, fn) for key, _, fn, _ in columns}
            for label, runs in groups.items()}


def _table(groups: Groups, summary: dict[str, dict[str, MeanSE]], columns: list[_Col],
           caption: str) -> Table:
    header = ["agent", "runs"] + [title for _, title, _, _ in columns]
    rows = [[label, str(len(groups[label]))] + [fmt(stats[key], d) for key, _, _, d in columns]
            for label, stats in summary.items()]
    return Table(header, rows, caption)


def compute_section(groups: Groups) -> tuple[dict, list[Table]]:
    """Compute summaries and their three tables (time, tokens, throughput)."""
    parts = [("time", time_columns(groups), "Wall time per step by phase (mean ± SE over runs)"),
             ("tokens", token_columns(groups), "Tokens per step by kind (mean ± SE over runs; every "
              "`tokens_<kind>` count the runs logged); 'generated (all)' is every kind of generation, "
              "untrained draws included; "
              "'prefix reused' are reset-prefix tokens not generated again"),
             ("throughput", THROUGHPUT_COLUMNS, "Totals and throughput; generation tok/s = "
              "generated tokens / (generate + localize seconds)")]
    data, tables = {}, []
    for name, columns, caption in parts:
        summary = _summary(groups, columns)
        data[name] = {label: {k: s.as_dict() for k, s in st.items()}
                      for label, st in summary.items()}
        tables.append(_table(groups, summary, columns, caption))
    return data, tables


def n_reset_groups(row: dict) -> float:
    """Reset groups in a step: len(reset_depths), else 1 when a reset metric is set, else 0."""
    if isinstance(row.get("reset_depths"), list):
        return float(len(row["reset_depths"]))
    return 1.0 if is_number(row.get("reset_depth")) else 0.0


def _prefix_count(clean: bool, prefix: str = "") -> Callable[[dict], float]:
    """Reset groups of a step with a clean (erroneous) prefix: `reset_groups_clean`
    (`reset_groups_erroneous`) when logged, else counted from the deviations (<= 0 is clean),
    else 1 (each step weighs the same). `prefix`: the reference ("" exact oracle, "mc_")."""
    key = f"{prefix}reset_groups_clean" if clean else f"{prefix}reset_groups_erroneous"

    def count(row: dict) -> float:
        if is_number(row.get(key)):
            return float(row[key])
        devs = row.get(f"{prefix}localization_deviations")
        if isinstance(devs, list):
            return float(sum(1 for d in devs if is_number(d) and (d <= 0) == clean))
        return 1.0
    return count


def _share_clean(prefix: str = "") -> Callable[[Run], float]:
    """Share of judged reset groups with a clean prefix (no error found counts as clean when the
    trainer logs the counts)."""
    def fn(run: Run) -> float:
        rows = [r for r in run.metrics if _has_oracle_row(r, prefix)]
        clean = sum(_prefix_count(True, prefix)(r) for r in rows)
        bad = sum(_prefix_count(False, prefix)(r) for r in rows)
        return clean / (clean + bad) if clean + bad > 0 else math.nan
    return fn


def _has_oracle_row(row: dict, prefix: str = "") -> bool:
    return any(f"{prefix}{k}" in row for k in ("reset_groups_clean", "localization_deviations",
                                               "localization_deviation"))


def _pooled_mean(list_key: str, scalar_key: str) -> Callable[[Run], float]:
    """Per-run mean of all values in `list_key`, else of the per-step `scalar_key` values
    weighted by the step's reset-group count."""
    def fn(run: Run) -> float:
        values = agg.pooled([run], list_key)
        if values:
            return float(sum(values) / len(values))
        return agg.run_weighted(scalar_key, n_reset_groups)(run)
    return fn


def _pooled_mean_of(list_key: str, fn: Callable[[float], float]) -> Callable[[Run], float]:
    """Per run: the mean of fn(value) over the pooled `list_key` values (nan when none)."""
    def per_run(run: Run) -> float:
        values = agg.pooled([run], list_key)
        return sum(float(fn(v)) for v in values) / len(values) if values else math.nan
    return per_run


def _share(list_key: str, test: Callable[[float], bool]) -> Callable[[Run], float]:
    """Per run: the share of the pooled `list_key` values passing `test`."""
    return _pooled_mean_of(list_key, lambda v: bool(test(v)))


def _judged(run: Run, key: str) -> list[tuple[int, int, int]]:
    """The run's pooled [h*, h_ref, n] triples of `key` (`localization_judged`, prefixed)."""
    return [tuple(int(v) for v in t) for row in run.metrics for t in (row.get(key) or [])
            if isinstance(t, list) and len(t) == 3]


def _agreement(key: str, column: str) -> Callable[[Run], float]:
    """Per run: one agreement figure (`codereset.run.metrics.reference_agreement`, the same rule
    the trainer logs per step) over every judged multi-thought seed of the run."""
    from codereset.run.metrics import reference_agreement

    def fn(run: Run) -> float:
        judged = _judged(run, key)
        value = reference_agreement(judged)[column] if judged else None
        return math.nan if value is None else float(value)
    return fn


def _last_agreement(key: str, column: str) -> Callable[[Run], float]:
    """Per run: h* = n's score on the judged seeds, or how often the agent answered it
    (`codereset.run.metrics.last_thought_agreement`)."""
    from codereset.run.metrics import last_thought_agreement

    def fn(run: Run) -> float:
        judged = _judged(run, key)
        value = last_thought_agreement(judged)[column] if judged else None
        return math.nan if value is None else float(value)
    return fn


def _modal_share(run: Run) -> float:
    """Share of the run's most frequent h* over its multi-thought seeds (`reset_h_star`)."""
    hs = [int(h) for row in run.metrics for h in (row.get("reset_h_star") or []) if is_number(h)]
    return max(hs.count(h) for h in set(hs)) / len(hs) if hs else math.nan


RESET_COLUMNS: list[_Col] = [
    ("reset_groups", "reset groups", lambda r: float(sum(map(n_reset_groups, r.metrics))), 1),
    ("reset_position", "reset position h*/n", _pooled_mean("reset_depths", "reset_depth"), 3),
    ("groups_with_signal", "groups with signal",
     agg.run_weighted("reset_groups_with_signal", n_reset_groups), 3),
    ("correction_rate", "correction rate", agg.run_weighted("correction_rate", n_reset_groups), 3),
    ("localization_parse_failures", "parse failures",
     agg.run_sum("localization_parse_failures"), 1),
    ("parse_failure_share", "parse failures / reset groups", lambda r: _per_group(r, "localization_parse_failures"), 3),
    ("budget_out_share", "budget-outs / reset groups", lambda r: _per_group(r, "localization_budget_outs"), 3),
    ("one_thought_seeds", "one-thought seeds (h* = 1 forced)", agg.run_sum("reset_seeds_one_thought"), 1),
    ("h_star_modal_share", "modal h* share (multi-thought seeds)", _modal_share, 3),
]


def _per_group(run: Run, key: str) -> float:
    """Sum of a per-step count over the run, per reset group (nan when no row logs the key)."""
    groups = sum(map(n_reset_groups, run.metrics))
    if not any(key in m for m in run.metrics):
        return math.nan
    total = agg.run_sum(key)(run)
    return total / groups if groups > 0 and math.isfinite(total) else math.nan

def oracle_columns(prefix: str = "") -> list[_Col]:
    """Localization against a reference first error: the exact oracle (`prefix` "") or the
    Monte-Carlo one ("mc_", `agent.values.diagnose`); the keys of `codereset.run.metrics.oracle_metrics`."""
    devs = f"{prefix}localization_deviations"
    ref = "h_mc" if prefix else "h_oracle"

    def weighted(key: str, clean: bool) -> Callable[[Run], float]:
        return agg.run_weighted(f"{prefix}{key}", _prefix_count(clean, prefix))

    judged = f"{prefix}localization_judged"
    return [
        ("judged_seeds", "judged multi-thought seeds", lambda r: float(len(_judged(r, judged))), 1),
        ("exact", "exact", _agreement(judged, "localization_exact"), 3),
        ("exact_if_first", "exact if h*=1", _agreement(judged, "localization_exact_first"), 3),
        ("exact_if_uniform", "exact if uniform", _agreement(judged, "localization_exact_uniform"), 3),
        ("exact_if_last", "exact if h*=n", _last_agreement(judged, "exact_last"), 3),
        ("answered_last", "share h*=n", _last_agreement(judged, "answered_last"), 3),
        ("within_one", "within 1", _agreement(judged, "localization_within_one"), 3),
        ("within_one_if_first", "within 1 if h*=1", _agreement(judged, "localization_within_one_first"), 3),
        ("within_one_if_uniform", "within 1 if uniform", _agreement(judged, "localization_within_one_uniform"), 3),
        ("deviation", f"deviation h*-{ref}", _pooled_mean(devs, f"{prefix}localization_deviation"), 2),
        ("abs_deviation", "abs deviation", _pooled_mean_of(devs, abs), 2),
        ("share_exact", "share exact", _share(devs, lambda d: d == 0), 3),
        ("share_within_1", "share within 1", _share(devs, lambda d: abs(d) <= 1), 3),
        ("share_clean", "share clean", _share_clean(prefix), 3),
        ("correction_rate_clean", "correction clean", weighted("correction_rate_clean", True), 3),
        ("correction_rate_erroneous", "correction erroneous", weighted("correction_rate_erroneous", False), 3),
        ("suffix_pass_at_4_clean", "suffix pass@4 clean", weighted("suffix_pass_at_4_clean", True), 3),
        ("suffix_pass_at_4_erroneous", "suffix pass@4 erroneous",
         weighted("suffix_pass_at_4_erroneous", False), 3),
        ("reset_groups_empty", "empty-prefix groups", agg.run_sum(f"{prefix}reset_groups_empty"), 1),
        ("correction_rate_empty", "correction empty",
         agg.run_weighted(f"{prefix}correction_rate_empty", _empty_count(prefix)), 3),
        ("suffix_pass_at_4_empty", "suffix pass@4 empty",
         agg.run_weighted(f"{prefix}suffix_pass_at_4_empty", _empty_count(prefix)), 3),
    ]


def _empty_count(prefix: str) -> Callable[[dict], float]:
    """Empty-prefix reset groups of a step (0 in rows that predate the key)."""
    key = f"{prefix}reset_groups_empty"
    return lambda row: float(row[key]) if is_number(row.get(key)) else 0.0


ORACLE_COLUMNS = oracle_columns()
MC_ORACLE_COLUMNS = oracle_columns("mc_")


def has_resets(runs: list[Run]) -> bool:
    return any(n_reset_groups(row) > 0 for run in runs for row in run.metrics)


def has_oracle(runs: list[Run], prefix: str = "") -> bool:
    """Whether any run logged localization against the reference (`prefix`: "" exact, "mc_")."""
    return any(is_number(row.get(f"{prefix}localization_deviation"))
               or isinstance(row.get(f"{prefix}localization_deviations"), list)
               for run in runs for row in run.metrics)


def reset_section(groups: Groups) -> tuple[dict, Table]:
    """Reset diagnostics for the groups that made reset groups."""
    groups = {k: v for k, v in groups.items() if has_resets(v)}
    summary = _summary(groups, RESET_COLUMNS)
    data = {label: {k: s.as_dict() for k, s in st.items()} for label, st in summary.items()}
    return data, _table(groups, summary, RESET_COLUMNS, "Reset diagnostics (mean ± SE over runs; "
                        "shares weighted by reset groups per step)")


def oracle_section(groups: Groups, prefix: str = "") -> tuple[dict, Table]:
    """Localization against a reference first error, for the groups whose runs logged it."""
    groups = {k: v for k, v in groups.items() if has_oracle(v, prefix)}
    columns = oracle_columns(prefix)
    summary = _summary(groups, columns)
    data = {label: {k: s.as_dict() for k, s in st.items()} for label, st in summary.items()}
    ref = "the Monte-Carlo first error h_mc" if prefix else "the oracle"
    return data, _table(groups, summary, columns, f"Localization vs {ref} (clean prefix: h* <= "
                        f"{'h_mc' if prefix else 'h_oracle'}; within 1: |h* - ref| <= 1; mean ± SE over runs)")


def final_evals(run: Run) -> dict[tuple, dict]:
    """(suite, split, k) -> the row of the run's last evaluated step."""
    out: dict[tuple, dict] = {}
    for row in run.evals:
        key = (str(row["suite"]), str(row.get("split", "")), int(row["k"]))
        if key not in out or _eval_step(row) >= _eval_step(out[key]):
            out[key] = row
    return out


def _eval_step(row: dict) -> float:
    return float(row["step"]) if is_number(row.get("step")) else -1.0


def eval_section(groups: Groups) -> tuple[list[dict], Table]:
    """Final pass@k per group, suite, split and k."""
    cells: dict[tuple, list[dict]] = {}
    for label, runs in groups.items():
        for run in runs:
            for (suite, split, k), row in final_evals(run).items():
                cells.setdefault((label, suite, split, k), []).append(row)
    data, rows = [], []
    for (label, suite, split, k), found in sorted(cells.items(), key=_eval_order(groups)):
        stat = mean_se(r.get("pass_at_k") for r in found)
        tasks = sorted({int(r["n_tasks"]) for r in found if is_number(r.get("n_tasks"))})
        steps = sorted({int(r["step"]) for r in found if is_number(r.get("step"))})
        lo, hi = wilson_interval(stat.mean, tasks[0] if tasks else 0)
        data.append({"group": label, "suite": suite, "split": split, "k": k,
                     "pass_at_k": stat.as_dict(), "ci95": [_num(lo), _num(hi)],
                     "n_tasks": tasks, "steps": steps})
        rows.append([label, suite, split, str(k), _span(steps), fmt(stat),
                     f"[{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else "—",
                     _span(tasks), str(stat.n)])
    header = ["agent", "suite", "split", "k", "step", "pass@k (± SE over runs)",
              "95% CI (Wilson, tasks)", "tasks", "runs"]
    return data, Table(header, rows, "Final evaluation: last evaluated step of each run")


def _eval_order(groups: Groups):
    order = {label: i for i, label in enumerate(groups)}
    return lambda item: (item[0][1], item[0][2], item[0][3], order[item[0][0]])


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _span(values: list[int]) -> str:
    if not values:
        return "—"
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def common_root(runs: list[Run]) -> str:
    """The folder all runs lie under (a single run's parent)."""
    paths = [str(r.path) for r in runs]
    return os.path.commonpath(paths) if len(paths) > 1 else str(runs[0].path.parent)


def run_name(run: Run, root: str) -> str:
    """How the report names a run: its path relative to `root`."""
    return os.path.relpath(run.path, root)


def runs_section(runs: list[Run], group_by: str) -> tuple[list[dict], Table]:
    """One row per run: where it is, its group, seed, progress, state and what is missing."""
    root = common_root(runs)
    data, rows = [], []
    for run in runs:
        name = run_name(run, root)
        total = run.total_steps
        progress = f"{run.last_step}/{total}" if total is not None else str(run.last_step)
        issues = run.problems or ["complete"]
        data.append({"path": str(run.path), "group": run.label(group_by), "seed": run.seed,
                     "last_step": run.last_step, "total_steps": total, "state": run.state,
                     "partial": run.partial, "problems": run.problems, "notes": run.notes,
                     "missing_metric_keys": run.missing_metric_keys()})
        rows.append([name, run.label(group_by), str(run.seed), str(run.get("env.tasks", "—")),
                     progress, run.state, "; ".join(issues + run.notes)])
    header = ["run", "agent", "seed", "suite", "steps", "state", "status"]
    return data, Table(header, rows, f"Runs read (paths relative to {root})")
