"""Builds the whole report from run directories: groups runs (by agent by default), computes the
curves, speed-ups and tables, draws the figures, and writes `report.md`, a self-contained
`report.html`, `summary.json` (every number shown, as data; run paths relative to that folder)
and `figures/*.png` into one folder.

It only reads run directories, so it can be re-run at any time (also on a sweep in progress).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codereset.report import aggregate as agg
from codereset.report import comparison
from codereset.report import plots
from codereset.report import tables as tb
from codereset.report.document import Bullets, Document, Figure, Heading, Para, Table
from codereset.report.document import to_html, to_markdown
from codereset.report import speedup as su
from codereset.report.runs import Run, load_runs
from codereset.report.samples import correction_by_deviation, reset_records

#: Agents in the order the paper compares them; other groups follow alphabetically.
AGENT_ORDER = ("grpo", "rrpo", "srpo", "caro", "critique_grpo", "score", "spo_tree", "vineppo")
#: The default smoothing window, in steps, capped at a quarter of the shortest run.
DEFAULT_SMOOTH = 5
FIGURES = ("learning_curves.png", "compute.png", "reset_diagnostics.png", "oracle_panels.png",
           "mc_oracle_panels.png", "final_eval.png")


@dataclass(frozen=True)
class Reference:
    """A reference first error the localization is measured against.

    prefix: its metric keys' prefix. sample_key: its per-group verdict in samples.jsonl.
    symbol: how tables and figures name it. heading / summary_key / figure: where it goes.
    """

    prefix: str
    sample_key: str
    symbol: str
    heading: str
    summary_key: str
    figure: str


#: The exact step oracle (suites with step truth, e.g. arith) and the Monte-Carlo first error
#: (`agent.values.diagnose`, any suite: code included).
REFERENCES = (
    Reference("", "h_oracle", "h_oracle", "Localization against the oracle", "oracle", "oracle_panels.png"),
    Reference("mc_", "mc_h_oracle", "h_mc", "Localization against the Monte-Carlo first error",
              "mc_oracle", "mc_oracle_panels.png"),
)


@dataclass
class ReportConfig:
    """How the report groups and summarizes runs.

    Fields:
        baseline: group whose final value defines the speed-up target; None picks "grpo" when
            present, else the first group (the report says which).
        group_by: what forms the groups: "arm" (default: agent, localizer and buffer split, e.g.
            grpo, caro-1x8, srpo[entropy]-1x4, so two splits of one agent are never merged) or a
            dotted config key (e.g. agent.name).
        smooth: trailing-mean window, in steps, applied per run to the per-step pass rate and
            reset shares before averaging over seeds (1 = raw values); None: `DEFAULT_SMOOTH`,
            but never more than a quarter of the shortest run.
        title: the report's title.
        speedup: the speed-up rule (`codereset.report.speedup`: target fraction, bootstrap).
        dedupe_seeds: a group with several runs of one seed (e.g. a sweep run twice) is refused,
            naming the runs, since copies are not independent samples; True keeps one run per
            seed (the one with the most steps, then the first by path) and lists the others.
    """

    baseline: str | None = None
    group_by: str = "arm"
    smooth: int | None = None
    title: str = "codereset report: pass rate, compute and reset diagnostics"
    speedup: su.SpeedupRule = field(default_factory=su.SpeedupRule)
    dedupe_seeds: bool = False


def smoothing_window(runs: list[Run], requested: int | None) -> int:
    """`requested`, or the default capped at a quarter of the shortest run (at least 1)."""
    if requested is not None:
        return requested
    lengths = [r.total_steps or r.last_step for r in runs if r.metrics]
    return max(1, min([DEFAULT_SMOOTH] + [n // 4 for n in lengths]))


@dataclass
class ReportResult:
    """What `build_report` wrote."""

    out_dir: Path
    markdown: Path
    html: Path
    summary_path: Path
    figures: list[Path]
    summary: dict = field(repr=False)


def group_runs(runs: list[Run], group_by: str) -> dict[str, list[Run]]:
    """Runs by group label, groups in the paper's agent order then alphabetical."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label(group_by), []).append(run)
    known = {name: i for i, name in enumerate(AGENT_ORDER)}
    order = sorted(groups, key=lambda g: (known.get(g.lower(), len(known)), g))
    return {g: sorted(groups[g], key=lambda r: (str(r.seed), str(r.path))) for g in order}


def one_run_per_seed(groups: dict[str, list[Run]], dedupe: bool) -> tuple[dict[str, list[Run]], list[Run]]:
    """(groups, dropped runs): a group holding one seed in several runs is refused (ValueError
    naming them) unless `dedupe`, which keeps the run of that seed with the most steps (then the
    first by path). Runs of unknown seed are kept as they are."""
    all_runs = [r for rs in groups.values() for r in rs]
    root = tb.common_root(all_runs) if all_runs else ""
    kept: dict[str, list[Run]] = {}
    dropped: list[Run] = []
    repeats: list[str] = []
    for group, runs in groups.items():
        by_seed: dict[str, list[Run]] = {}
        for run in runs:
            by_seed.setdefault("unknown" if run.seed is None else str(run.seed), []).append(run)
        kept[group] = []
        for seed, same in by_seed.items():
            if seed == "unknown" or len(same) == 1:
                kept[group].extend(same)
                continue
            repeats.append(f"group {group} has seed {seed} in {len(same)} runs ("
                           + ", ".join(tb.run_name(r, root) for r in same) + ")")
            best = max(same, key=lambda r: (r.last_step, not r.partial, [-ord(c) for c in str(r.path)]))
            kept[group].append(best)
            dropped.extend(r for r in same if r is not best)
    if repeats and not dedupe:
        raise ValueError("; ".join(repeats) + ": runs of one seed are not independent samples. Remove "
                         "the copies, or pass --dedupe-seeds to keep one run per seed (the one with "
                         "the most steps)")
    return {g: sorted(rs, key=lambda r: (str(r.seed), str(r.path))) for g, rs in kept.items()}, dropped


def relative_paths(summary: dict, out: Path, runs: list[Run]) -> dict:
    """`summary` with every run's path written relative to the report folder `out` (e.g.
    "runs/grpo_s0"), so a committed result folder means the same on any machine."""
    import os

    relative = {str(r.path): os.path.relpath(Path(r.path).resolve(), out.resolve()) for r in runs}

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return relative.get(node, node) if isinstance(node, str) else node

    return walk(summary)


def resolve_baseline(groups: dict[str, list[Run]], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in groups:
            raise ValueError(f"baseline '{wanted}' is not a group of these runs; groups: "
                             f"{sorted(groups)}")
        return wanted
    return "grpo" if "grpo" in groups else next(iter(groups))


def _curve_data(curves: dict[str, agg.Curve]) -> dict:
    def clean(a):
        return [None if not math.isfinite(v) else float(v) for v in a]
    return {k: {"x": clean(c.x), "mean": clean(c.mean), "se": clean(c.se), "n": c.n.tolist()}
            for k, c in curves.items()}


def _overview(doc: Document, runs: list[Run], groups, cfg: ReportConfig, smooth: int,
              baseline: str) -> None:
    seeds = ", ".join(f"{g}: {len(rs)} run(s)" for g, rs in groups.items())
    doc.add(Para(f"{len(runs)} run(s) grouped by config key `{cfg.group_by}` ({seeds}). "
                 f"Baseline for speed-ups: {baseline}. Bands and ± are 1 standard error over "
                 f"runs (seeds). Per-step pass rates are smoothed per run with a trailing mean "
                 f"over {smooth} step(s) before averaging"
                 + (" (the default window, capped at a quarter of the shortest run)."
                    if cfg.smooth is None else ".")))
    partial = [r for r in runs if r.partial]
    root = tb.common_root(runs)
    if partial:
        doc.add(Para(f"Partial runs ({len(partial)} of {len(runs)}): their data is used as far "
                     "as it goes; averages at later steps cover fewer runs (see n)."),
                Bullets([f"{tb.run_name(r, root)} ({r.label(cfg.group_by)}, seed {r.seed}): "
                         + "; ".join(r.problems) for r in partial]))
    else:
        doc.add(Para("All runs are complete (finished, every step logged, evaluated)."))
    for key in ("env.tasks", "model.name"):
        values = sorted({str(r.get(key)) for r in runs})
        if len(values) > 1:
            doc.add(Para(f"Note: runs differ in `{key}` ({', '.join(values)}); groups compare "
                         "runs of different settings."))


def _fmt_speedup(s: su.SpeedUp) -> str:
    if s.speedup is None:
        return "—"
    ci = "" if s.ci95 is None else f" [{s.ci95[0]:.2f}, {s.ci95[1]:.2f}]"
    return f"{s.speedup:.2f}x{ci}"


def _fmt_at(s: su.SpeedUp) -> str:
    if s.at is None:
        return "not reached" if s.target is not None else "—"
    return f"{s.at:.1f}" if s.axis == "steps" else f"{s.at:,.0f}"


def _speedup_table(comp, baseline: str, rule: su.SpeedupRule) -> list:
    """The speed-up table (and the baseline's gain line) of one metric."""
    g = comp.gain
    gain = g.gain
    ci = "" if gain.ci95 is None else f", 95% CI [{gain.ci95[0]:+.3f}, {gain.ci95[1]:+.3f}]"
    head = (f"`{comp.metric}`: {baseline} goes from {g.start:.3f} to {g.final:.3f} (mean per-seed gain "
            f"{gain.value:+.3f}{ci} over {gain.n} seed(s)). " if gain.value is not None else "")
    if not g.significant:
        return [Para(head + f"Speed-up: {g.reason}.")]
    rows = []
    for label, by in comp.speedups.items():
        st, tk = by["steps"], by["tokens"]
        rows.append([label, _fmt_at(st), _fmt_speedup(st), _fmt_at(tk), _fmt_speedup(tk),
                     "; ".join(dict.fromkeys(x for x in (st.reason, tk.reason) if x and x != "the baseline"))])
    blocks = [Para(head + f"Target: {comp.target:.3f} ({rule.fraction:.0%} of {baseline}'s gain)."),
              Table(["agent", "step at target", "speed-up (steps) [95% CI]", "generated tokens at target",
                     "speed-up (tokens) [95% CI]", "note"], rows,
                    f"Speed-up on `{comp.metric}`: {baseline}'s time to the target / the agent's (mean "
                    f"curves, crossing interpolated); 95% percentile bootstrap over seeds, "
                    f"{rule.n_boot} replicates, runs resampled per agent (unpaired)")]
    if comp.paired:
        prow = []
        for label, by in comp.paired.items():
            seeds = "; ".join(f"seed {p.seed}: {_num_or(p.speedup, '{:.2f}x', 'never')} "
                              f"(final {p.final_difference:+.3f})" for p in comp.per_seed.get(label, []))
            prow.append([label, str(by["steps"].n_runs), _fmt_speedup(by["steps"]),
                         _fmt_speedup(by["tokens"]), seeds or "—"])
        blocks.append(Table(["agent", "paired seeds", "paired speed-up (steps) [95% CI]",
                             "paired speed-up (tokens) [95% CI]", "per seed: speed-up (final − baseline's)"],
                            prow, f"Paired comparison (`trainer.paired: true`, same seeds as {baseline}): "
                                  "bootstrap resamples seeds jointly; per-seed speed-ups use each run's own "
                                  "curve against the common target"))
    return blocks


def _num_or(value, pattern: str, missing: str) -> str:
    return missing if value is None else pattern.format(value)


def _learning_section(doc, groups, cfg, smooth, baseline, colors, fig_dir, summary) -> dict:
    doc.add(Heading("1. Learning curves"))
    rows: list[plots.CurveRow] = []
    metrics = [("pass_rate", "train pass rate (base group)", smooth),
               (agg.VAL_KEY, "validation pass rate (greedy pass@1)", 1)]
    summary["curves"], summary["speedups"], comparisons, tables = {}, {}, {}, []
    for metric, ylabel, window in metrics:
        comp = comparison.compare(groups, baseline, metric, window, cfg.speedup)
        if comp is None:
            continue
        comparisons[metric] = comp
        by_step = {g: c for g, rs in groups.items()
                   if (c := agg.step_curve(g, rs, metric, window)) is not None}
        by_tokens = {g: c for g, rs in groups.items()
                     if (c := agg.token_curve(g, rs, metric, window))}
        rows.append(plots.CurveRow(metric, ylabel, by_step, by_tokens, comp.speedups, baseline,
                                   comp.target))
        summary["curves"][metric] = _curve_data(by_step)
        summary["speedups"][metric] = comp.as_dict()
        tables += _speedup_table(comp, baseline, cfg.speedup)
    if not rows:
        doc.add(Para("No run logged a pass rate yet: no learning curves."))
        return comparisons
    plots.learning_curves(rows, colors, fig_dir / "learning_curves.png")
    starts = sorted({int(cs.x[0]) for c in comparisons.values() if c.metric == agg.VAL_KEY
                     for cs in c.sets.values()})
    start_note = ("The validation curves start at the starting evaluation (step 0); train pass rates at "
                  "step 1, the first training batch." if starts == [0] else
                  f"The validation curves start at step(s) {', '.join(map(str, starts))}: these runs have no "
                  "step-0 evaluation (`validation.at_start`), so their start is the first validated step."
                  if starts else "")
    doc.add(Figure("figures/learning_curves.png",
                   "Pass rate per agent (mean ± 1 SE over seeds) against training step (left) "
                   "and cumulative generated tokens, every kind of generation included (right); "
                   f"dashed: the target ({cfg.speedup.fraction:.0%} of {baseline}'s gain), ▼ where each "
                   "agent's mean curve reaches it."),
            Para(f"{start_note} Speed-up rule: only when {baseline} gained significantly from its first to "
                 f"its last point (the 95% bootstrap interval of its mean per-seed gain is above 0); the "
                 f"target is the level where {baseline}'s mean curve has covered "
                 f"{cfg.speedup.fraction:.0%} of its gain; otherwise \"{su.NO_GAIN}\"."),
            *tables)
    return comparisons


def _compute_section(doc, groups, fig_dir, summary) -> None:
    doc.add(Heading("2. Compute"))
    if not any(r.metrics for rs in groups.values() for r in rs):
        doc.add(Para("No run logged a step yet: nothing to show."))
        return
    data, tables = tb.compute_section(groups)
    summary["compute"] = data
    labels = list(groups)

    def col(part: str, key: str) -> list[float]:
        return [data[part][g][key]["mean"] or 0.0 for g in labels]
    times = {name: col("time", key) for key, name in tb.time_phases(groups)}
    times["other"] = [max(0.0, t - sum(p)) for t, p in
                      zip(col("time", "time_step_s"), zip(*times.values()))]
    tokens = {name: col("tokens", key) for key, name in tb.token_kinds(groups)}
    tokens["untrained other"] = [max(0.0, g - sum(p)) for g, p in
                                 zip(col("tokens", "tokens_generated"), zip(*tokens.values()))]
    plots.compute_bars(labels, times, tokens, col("tokens", "tokens_prefix_reused"),
                       fig_dir / "compute.png")
    doc.add(Figure("figures/compute.png", "Mean seconds per step by phase and tokens per step "
                   "by kind (hatched: reset-prefix tokens reused, not generated)."), *tables)


def _reset_section(doc, groups, smooth, colors, fig_dir, summary) -> None:
    doc.add(Heading("3. Reset diagnostics"))
    with_resets = {g: rs for g, rs in groups.items() if tb.has_resets(rs)}
    if not with_resets:
        doc.add(Para("No run made reset groups (GRPO only, or no seed found): nothing to show."))
        return
    data, table = tb.reset_section(groups)
    summary["resets"] = data
    positions = {g: agg.pooled(rs, "reset_depths") for g, rs in with_resets.items()}
    signal = {g: c for g, rs in with_resets.items()
              if (c := agg.step_curve(g, rs, "reset_groups_with_signal", smooth))}
    correction = {g: c for g, rs in with_resets.items()
                  if (c := agg.step_curve(g, rs, "correction_rate", smooth))}
    plots.reset_diagnostics(positions, signal, correction, colors,
                            fig_dir / "reset_diagnostics.png")
    doc.add(Figure("figures/reset_diagnostics.png",
                   "Left: where resets land in the seed (h*/n; RRPO is uniform by design, SRPO "
                   "where the model localizes the error). Middle: share of reset groups whose "
                   "rewards differ (they carry a gradient). Right: share with a correct suffix."),
            table)
    for ref in REFERENCES:
        if tb.has_oracle([r for rs in groups.values() for r in rs], ref.prefix):
            _oracle_section(doc, groups, colors, fig_dir, summary, ref)


def _oracle_section(doc, groups, colors, fig_dir, summary, ref: Reference) -> None:
    doc.add(Heading(ref.heading, 3))
    data, table = tb.oracle_section(groups, ref.prefix)
    summary[ref.summary_key] = data
    deviations = {g: agg.pooled(groups[g], f"{ref.prefix}localization_deviations") for g in data}
    by_deviation, judged = {}, 0
    for g in data:
        records = [rec for run in groups[g] for rec in reset_records(run.path, ref.sample_key)]
        judged += len(records)
        if records and (cells := correction_by_deviation(records)):
            by_deviation[g] = cells
    summary[f"{ref.summary_key}_by_deviation"] = by_deviation
    plots.oracle_panels(deviations, by_deviation, data, colors, fig_dir / ref.figure, ref.symbol)
    r = ref.symbol
    doc.add(Figure(f"figures/{ref.figure}",
                   f"(a) h* − {r}: 0 is exact, < 0 resets before the first error (clean "
                   "prefix), > 0 after it (the prefix already holds the error). (b) correction "
                   "rate per deviation, from the reset groups in samples.jsonl (n: groups). "
                   "(c, d) correction rate and suffix-group pass@4 from clean vs erroneous "
                   "prefixes. Agents without resets, panels without data and a (d) equal to (c) "
                   "are left out; the note under the figure names them."), table)
    if by_deviation:
        devs = sorted({d for t in by_deviation.values() for d in t})
        rows = [[g] + [f"{t[d]['rate']:.3f} ({t[d]['corrected']}/{t[d]['groups']})" if d in t
                       else "—" for d in devs] for g, t in by_deviation.items()]
        doc.add(Table(["agent"] + [f"{d:+d}" if d else "0" for d in devs], rows,
                      f"Correction rate by deviation h* − {r} (corrected / reset groups, "
                      "pooled over runs; from samples.jsonl)"))
    else:
        doc.add(Para(f"samples.jsonl holds {judged} oracle-judged reset group(s), none whose "
                     "seed has an error found: no correction rate by deviation "
                     "(panel b)." if judged else f"No per-group records (reset groups with "
                     f"{ref.sample_key}) in samples.jsonl: no correction rate by deviation (panel b)."))


def _eval_section(doc, groups, colors, fig_dir, summary) -> None:
    doc.add(Heading("4. Final evaluation"))
    data, table = tb.eval_section(groups)
    summary["eval"] = data
    root = tb.common_root([r for rs in groups.values() for r in rs])
    missing = [f"{tb.run_name(r, root)} ({g})" for g, rs in groups.items() for r in rs
               if not r.evals]
    if not data:
        doc.add(Para("No eval.jsonl rows in these runs: no final evaluation to show."))
        return
    plots.eval_bars(data, colors, fig_dir / "final_eval.png")
    doc.add(Figure("figures/final_eval.png", "Final pass@k per suite and agent; error bars: "
                   "95% Wilson interval over the suite's tasks."), table)
    if missing:
        doc.add(Para("Runs without evaluation rows (not in the table): " + ", ".join(missing)))


def _runs_section(doc, runs, cfg, summary) -> None:
    doc.add(Heading("5. Runs"))
    data, table = tb.runs_section(runs, cfg.group_by)
    summary["runs"] = data
    doc.add(table)
    missing: dict[str, int] = {}
    for run in runs:
        if run.metrics:
            for key in run.missing_metric_keys():
                missing[key] = missing.get(key, 0) + 1
    summary["missing_metric_keys"] = missing
    if missing:
        doc.add(Para("Contract fields absent from metrics.jsonl: " + ", ".join(
            f"{k} (in {n} of {len(runs)} runs)" for k, n in missing.items())))


def build_report(paths: list[str | Path], out_dir: str | Path,
                 cfg: ReportConfig | None = None) -> ReportResult:
    """Read every run at or below `paths` and write the report into `out_dir`."""
    cfg = cfg or ReportConfig()
    if cfg.smooth is not None and cfg.smooth < 1:
        raise ValueError(f"smooth must be >= 1 (1 = no smoothing), got {cfg.smooth}")
    runs = load_runs(list(paths))
    smooth = smoothing_window(runs, cfg.smooth)
    groups, dropped = one_run_per_seed(group_runs(runs, cfg.group_by), cfg.dedupe_seeds)
    if dropped:
        root = tb.common_root(runs)
        runs = [r for r in runs if all(r is not d for d in dropped)]
    baseline = resolve_baseline(groups, cfg.baseline)
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:  # a re-run must not leave figures of an earlier one behind
        (fig_dir / name).unlink(missing_ok=True)
    colors = plots.agent_colors(list(groups))
    doc = Document(cfg.title)
    summary: dict = {"config": asdict(cfg) | {"baseline": baseline, "smooth": smooth},
                     "groups": {g: [str(r.path) for r in rs] for g, rs in groups.items()},
                     "partial_runs": [str(r.path) for r in runs if r.partial],
                     "dropped_repeated_seeds": [str(r.path) for r in dropped]}
    _overview(doc, runs, groups, cfg, smooth, baseline)
    if dropped:
        doc.add(Para(f"Repeated seeds (--dedupe-seeds): {len(dropped)} run(s) left out, each a "
                     "second run of a seed its group already has (the run with the most steps is kept):"),
                Bullets([f"{tb.run_name(r, root)} (seed {r.seed})" for r in dropped]))
    comparisons = _learning_section(doc, groups, cfg, smooth, baseline, colors, fig_dir, summary)
    summary["agents"] = comparison.agent_summary(groups, comparisons, cfg.speedup)
    _compute_section(doc, groups, fig_dir, summary)
    _reset_section(doc, groups, smooth, colors, fig_dir, summary)
    _eval_section(doc, groups, colors, fig_dir, summary)
    _runs_section(doc, runs, cfg, summary)
    summary = relative_paths(summary, out, [*runs, *dropped])
    md, page, js = out / "report.md", out / "report.html", out / "summary.json"
    md.write_text(to_markdown(doc))
    page.write_text(to_html(doc, out))
    js.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    figures = [fig_dir / n for n in FIGURES if (fig_dir / n).is_file()]
    return ReportResult(out, md, page, js, figures, summary)
