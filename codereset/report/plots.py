"""The report's figures (matplotlib, Agg backend, PNG files): learning curves with speed-up
marks, compute breakdown, reset diagnostics, the four oracle panels, and final evaluation bars.
Every function takes already-aggregated data and a path, writes one PNG and returns the (closed)
matplotlib Figure, so tests can read axis scales, panels and bars from it; colours are fixed per
agent so a group looks the same in every figure.

Readability rules (issue 25 item 11): legends sit outside the data (below a panel, or to its
right), never over curves or the target label; a token axis whose curves span ranges more than
`LOG_RATIO` apart (one agent far costlier, e.g. VinePPO's Monte-Carlo tokens) is logarithmic
(symlog: the 0-token start stays on the axis); agent names on bar axes are slanted; a panel or a
bar without data is left out, and the figure says what it left out and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import EngFormatter, MaxNLocator  # noqa: E402

from codereset.report.aggregate import Curve  # noqa: E402
from codereset.report.speedup import SpeedUp  # noqa: E402

_KNOWN = {"grpo": "#4c72b0", "rrpo": "#dd8452", "srpo": "#55a868", "caro": "#c44e52",
          "critique_grpo": "#8172b3", "score": "#937860", "spo_tree": "#da8bc3",
          "vineppo": "#64b5cd"}
_DPI = 110
LOG_RATIO = 10.0  # token ranges that differ more than this get a logarithmic axis


def palette(n: int) -> list[str]:
    """n distinct colours: tab10, then tab20, then evenly spaced hues (any n)."""
    for name, size in (("tab10", 10), ("tab20", 20)):
        if n <= size:
            cmap = plt.get_cmap(name)
            return [matplotlib.colors.to_hex(cmap(i)) for i in range(n)]
    return [matplotlib.colors.to_hex(plt.get_cmap("hsv")(i / n)) for i in range(n)]


def agent_colors(labels: list[str]) -> dict[str, str]:
    """A distinct colour per group: fixed for the known agents, the rest from a palette of
    colours none of the known agents use (any number of groups)."""
    taken = {_KNOWN[l.lower()] for l in labels if l.lower() in _KNOWN}
    others = [l for l in labels if l.lower() not in _KNOWN]
    spare = iter(c for c in palette(len(others) + len(_KNOWN) + 10) if c not in taken
                 and c not in _KNOWN.values())
    return {l: _KNOWN.get(l.lower()) or next(spare) for l in labels}


@dataclass
class CurveRow:
    """One metric's curves for the learning-curve figure (one row: vs step, vs tokens)."""

    metric: str
    ylabel: str
    by_step: dict[str, Curve]
    by_tokens: dict[str, Curve]
    speedups: dict[str, dict[str, SpeedUp]]  # label -> axis ("steps"/"tokens") -> speed-up
    baseline: str
    target: float | None = None


def _band(ax, curve: Curve, color: str, label: str) -> None:
    few = curve.x.size <= 12
    ax.plot(curve.x, curve.mean, color=color, lw=2, label=label, marker="o" if few else None,
            ms=4)
    lo, hi = curve.mean - curve.se, curve.mean + curve.se
    ax.fill_between(curve.x, lo, hi, color=color, alpha=0.2, lw=0)


def _legend_below(ax, fontsize: int = 9, ncol: int | None = None) -> None:
    """The axis' legend under it (below the x label), in as many columns as fit."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if ncol is None:
        longest = max(len(l) for l in labels)
        ncol = min(4, len(labels)) if longest <= 24 else 2 if longest <= 60 and len(labels) > 2 else 1
    ax.legend(fontsize=fontsize, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol,
              frameon=False)


def token_axis(ax, curves: dict[str, Curve]) -> str:
    """Scale the x axis of a tokens panel: logarithmic when the curves' token ranges differ more
    than LOG_RATIO times, else "linear". "log" when every point has tokens > 0; "symlog" when some
    start at 0 tokens (e.g. the step-0 validation), linear up to the power of ten below the
    smallest positive x, so the 0-token start stays on the axis. Returns the scale set."""
    ends = [float(np.max(c.x)) for c in curves.values() if c.x.size and np.max(c.x) > 0]
    if len(ends) < 2 or max(ends) <= LOG_RATIO * min(ends):
        return "linear"
    positive = [float(x) for c in curves.values() for x in c.x if x > 0]
    if all(float(x) > 0 for c in curves.values() for x in c.x):
        ax.set_xscale("log")
        return "log"
    linthresh = 10 ** math.floor(math.log10(min(positive)))
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.4)
    ax.set_xlim(left=0)
    return "symlog"


def _tokens_text(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if x < 10_000 else EngFormatter(places=1)(x)


def learning_curves(rows: list[CurveRow], colors: dict[str, str], path: Path):
    legend_rows = max((len(r.by_step) for r in rows), default=1)
    fig, axes = plt.subplots(len(rows), 2, figsize=(14, (4.0 + 0.1 * legend_rows) * len(rows) + 0.5),
                             squeeze=False, layout="constrained")
    for i, row in enumerate(rows):
        for j, tokens in enumerate((False, True)):
            ax = axes[i][j]
            curves = row.by_tokens if tokens else row.by_step
            for label, curve in curves.items():
                mark = row.speedups.get(label, {}).get("tokens" if tokens else "steps")
                n = int(curve.n.max()) if curve.n.size else 0
                text = f"{label} (n={n})"
                if mark is not None and row.target is not None:
                    if mark.at is None:
                        text += ": target not reached"
                    else:
                        at = _tokens_text(mark.at) + " tok" if tokens else f"step {mark.at:.1f}"
                        ratio = f" ({mark.speedup:.2f}x)" if mark.speedup is not None else ""
                        text += f": reaches at {at}{ratio}"
                _band(ax, curve, colors[label], text)
                if mark is not None and mark.at is not None and row.target is not None:
                    ax.axvline(mark.at, color=colors[label], ls=":", lw=1.2)
                    ax.plot([mark.at], [row.target], marker="v", ms=9, color=colors[label])
            if row.target is not None:
                ax.axhline(row.target, color="#555", ls="--", lw=1)
                ax.annotate(f"target: {row.baseline}'s half gain = {row.target:.3f}",
                            xy=(0.01, row.target), xycoords=("axes fraction", "data"),
                            va="bottom", fontsize=9, color="#333",
                            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
            elif row.speedups:
                ax.annotate("no speed-up: the baseline did not gain", xy=(0.01, 0.98),
                            xycoords="axes fraction", va="top", fontsize=9, color="#333")
            scale = token_axis(ax, curves) if tokens else "linear"
            ax.set_xlabel(("generated tokens (cumulative; every kind of generation"
                           + ("; log scale)" if scale != "linear" else ")")) if tokens else "training step")
            ax.set_ylabel(row.ylabel)
            lo, hi = ax.get_ylim()  # rates: never below 0, and a flat 0 curve is not zoomed in
            ax.set_ylim(max(lo, -0.02), max(hi, 0.1))
            xs = {float(x) for c in curves.values() for x in c.x}
            if len(xs) == 1 and scale == "linear":  # one point: centre it instead of a sub-step axis
                (x0,) = xs
                ax.set_xlim(x0 - max(1.0, 0.5 * x0), x0 + max(1.0, 0.5 * x0))
            if tokens:
                ax.xaxis.set_major_formatter(EngFormatter())
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                _legend_below(ax, fontsize=8)
            else:  # e.g. only the step-0 evaluation so far: no tokens generated yet
                ax.text(0.5, 0.5, "no points yet", ha="center", va="center", transform=ax.transAxes,
                        color="#777")
            ax.set_title(f"{row.ylabel} vs {'generated tokens' if tokens else 'step'}",
                         fontsize=11)
    fig.suptitle("Learning curves: mean ± 1 standard error over seeds", fontsize=12)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return fig


def _stacked(ax, labels, parts: dict[str, list[float]], colors: list[str], x) -> None:
    bottom = np.zeros(len(labels))
    for (name, values), color in zip(parts.items(), colors):
        vals = np.nan_to_num(np.array(values, dtype=float))
        ax.bar(x, vals, 0.38, bottom=bottom, label=name, color=color, edgecolor="white")
        bottom += vals


def compute_bars(labels: list[str], time_parts: dict[str, list[float]],
                 token_parts: dict[str, list[float]], reused: list[float], path: Path):
    """Stacked bars per agent: seconds per step by phase, tokens per step by kind; each stack's
    total is written above it (a costly agent's tall stack does not hide the others' numbers)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(15, 1.3 * len(labels) + 8), 4.8),
                                      layout="constrained")
    x = np.arange(len(labels))
    _stacked(left, labels, time_parts, palette(len(time_parts)), x)
    left.set_ylabel("seconds per step")
    left.set_title("Wall time per step by phase", fontsize=11)
    _stacked(right, labels, token_parts, palette(len(token_parts)), x - 0.2)
    right.bar(x + 0.2, np.nan_to_num(np.array(reused, dtype=float)), 0.38, color="white",
              edgecolor="#4c72b0", hatch="//", label="prefix reused (not generated)")
    right.set_ylabel("tokens per step")
    right.set_title("Tokens per step by kind", fontsize=11)
    right.yaxis.set_major_formatter(EngFormatter())
    for ax, parts, xs, fmt in ((left, time_parts, x, lambda v: f"{v:.1f} s"),
                               (right, token_parts, x - 0.2, _tokens_text)):
        totals = np.nansum(np.array(list(parts.values()), dtype=float), axis=0) if parts else []
        for xi, total in zip(xs, totals):
            ax.annotate(fmt(total), (xi, total), ha="center", va="bottom", fontsize=7,
                        xytext=(0, 2), textcoords="offset points")
        ax.margins(y=0.12)  # headroom above the tallest stack and its total
        ax.set_xticks(x, labels, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_xlabel("agent")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return fig


def reset_diagnostics(positions: dict[str, list[float]], signal: dict[str, Curve],
                      correction: dict[str, Curve], colors: dict[str, str], path: Path):
    """Histogram of h*/n per agent; share with signal and correction rate vs step."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained")
    bins = np.linspace(0, 1, 11)
    for label, values in positions.items():
        if values:
            share = np.full(len(values), 1.0 / len(values))
            axes[0].hist(values, bins=bins, weights=share, histtype="stepfilled", alpha=0.25,
                         color=colors[label])
            axes[0].hist(values, bins=bins, weights=share, histtype="step", lw=2,
                         color=colors[label], label=f"{label} ({len(values)} resets)")
    axes[0].set_xlabel("normalized reset position h*/n")
    axes[0].set_ylabel("share of resets")
    axes[0].set_title("Where resets land", fontsize=11)
    for ax, curves, title in ((axes[1], signal, "Reset groups with reward signal"),
                              (axes[2], correction, "Correction rate (any suffix correct)")):
        for label, curve in curves.items():
            _band(ax, curve, colors[label], label)
        ax.set_xlabel("training step")
        ax.set_ylabel("share of reset groups")
        ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title + " (mean ± 1 SE)", fontsize=11)
    for ax in axes:
        ax.grid(alpha=0.3)
        _legend_below(ax, ncol=2 if ax is axes[0] else None)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return fig


_PAIRED_KEYS = {"c": ("correction_rate_clean", "correction_rate_erroneous"),
                "d": ("suffix_pass_at_4_clean", "suffix_pass_at_4_erroneous")}


def _has(cell) -> bool:
    return cell is not None and cell.get("mean") is not None


def _paired_bars(ax, data: dict[str, dict], keys: tuple[str, str], colors, title, ylabel):
    """Clean vs erroneous bars per agent; a cell without groups gets no bar, only a small
    'none' mark (agents without any are left out by the caller)."""
    labels = list(data)
    x = np.arange(len(labels))
    for offset, key, hatch in ((-0.2, keys[0], ""), (0.2, keys[1], "//")):
        for xi, label in zip(x + offset, labels):
            cell = data[label].get(key)
            if not _has(cell):
                ax.annotate("none", (xi, 0), ha="center", va="bottom", fontsize=7, color="#777",
                            xytext=(0, 2), textcoords="offset points")
                continue
            ax.bar(xi, cell["mean"], 0.38, yerr=cell.get("se") or 0, capsize=4, color=colors[label],
                   hatch=hatch, edgecolor="black", alpha=0.85)
            ax.annotate(f"{cell['mean']:.2f}", (xi, cell["mean"] + (cell.get("se") or 0)), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 3), textcoords="offset points")
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 5 else 0,
                  ha="right" if len(labels) > 5 else "center", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_xlabel("agent")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.08)
    ax.set_title(title, fontsize=11)
    ax.legend(handles=[Patch(facecolor="white", edgecolor="black", label="clean prefix"),
                       Patch(facecolor="white", edgecolor="black", hatch="//",
                             label="erroneous prefix")], fontsize=9, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))


def _same_cells(summary: dict[str, dict]) -> bool:
    """Panels (c) and (d) would show the same numbers (e.g. suffix groups of 4: 'any suffix
    correct' is pass@4)."""
    for cells in summary.values():
        for c_key, d_key in zip(*_PAIRED_KEYS.values()):
            c, d = cells.get(c_key), cells.get(d_key)
            if _has(c) != _has(d):
                return False
            if _has(c) and any(not math.isclose(c.get(k) or 0.0, d.get(k) or 0.0, abs_tol=1e-9)
                               for k in ("mean", "se")):
                return False
    return True


def oracle_panels(deviations: dict[str, list[float]], by_deviation: dict[str, dict[int, dict]],
                  summary: dict[str, dict], colors: dict[str, str], path: Path,
                  ref: str = "h_oracle"):
    """Up to four panels: (a) deviation histogram, (b) correction rate by deviation, (c)
    correction rate and (d) suffix pass@4 for clean vs erroneous prefixes; `ref` names the
    reference first error. Agents without data (no resets) are left out of every panel, a panel
    without data is left out, and (d) is merged into (c) when their numbers are the same; a note
    under the figure says what was left out. The panels keep their letters (the report's caption
    names them)."""
    deviations = {g: vs for g, vs in deviations.items() if vs}
    by_deviation = {g: t for g, t in by_deviation.items() if t}
    summary = {g: cells for g, cells in summary.items()
               if any(_has(cells.get(k)) for keys in _PAIRED_KEYS.values() for k in keys)}
    left_out = []
    panels = []
    if deviations:
        panels.append("a")
    else:
        left_out.append(f"(a) no localization of a seed with an error found by {ref}")
    if by_deviation:
        panels.append("b")
    else:
        left_out.append("(b) no reset group with an error found in samples.jsonl")
    merged = False
    if summary:
        panels.append("c")
        if _same_cells(summary):
            merged = True
            left_out.append("(d) suffix pass@4 equals (c)'s correction rate for every agent")
        else:
            panels.append("d")
    else:
        left_out.append("(c, d) no reset group judged clean or erroneous")
    n = max(1, len(panels))
    rows, cols = (2, 2) if n == 4 else (1, n)
    fig, axes = plt.subplots(rows, cols, figsize=(6.8 * cols, 4.6 * rows + 0.4), squeeze=False,
                             layout="constrained")
    axes = list(axes.flat)
    if not panels:
        axes[0].text(0.5, 0.5, "no oracle-judged localization in these runs", ha="center",
                     va="center", transform=axes[0].transAxes, color="#777")
        axes[0].set_axis_off()
    ax_of = dict(zip(panels, axes))
    if "a" in ax_of:
        a = ax_of["a"]
        values = [v for vs in deviations.values() for v in vs]
        width = 0.8 / len(deviations)
        lo, hi = math.floor(min(values)), math.ceil(max(values))
        edges = np.arange(lo - 0.5, hi + 1.5, 1.0)
        for i, (label, vs) in enumerate(deviations.items()):
            counts, _ = np.histogram(vs, bins=edges)
            share = counts / max(1, len(vs))
            centres = edges[:-1] + 0.5 - 0.4 + width * (i + 0.5)
            a.bar(centres, share, width, color=colors[label], label=f"{label} ({len(vs)})")
        a.axvline(0, color="#333", ls="--", lw=1)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        a.set_xlabel(f"localization deviation h* − {ref} (≤ 0: clean prefix)")
        a.set_ylabel("share of localizations")
        a.set_title("(a) Deviation from the oracle's first error", fontsize=11)
    if "b" in ax_of:
        b = ax_of["b"]
        width = 0.8 / len(by_deviation)
        for i, (label, table) in enumerate(by_deviation.items()):
            xs = [dv - 0.4 + width * (i + 0.5) for dv in table]
            rates = [cell["rate"] for cell in table.values()]
            b.bar(xs, rates, width, color=colors[label], label=label)
            for x, cell in zip(xs, table.values()):
                b.annotate(f"n={cell['groups']}", (x, cell["rate"]), ha="center", va="bottom",
                           fontsize=7, xytext=(0, 2), textcoords="offset points")
        b.axvline(0.5, color="#333", ls="--", lw=1)
        b.xaxis.set_major_locator(MaxNLocator(integer=True))
        b.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        b.set_ylim(0, 1.1)
        b.set_xlabel(f"localization deviation h* − {ref}")
        b.set_ylabel("correction rate (any suffix correct)")
        b.set_title("(b) Correction rate by deviation", fontsize=11)
    if "c" in ax_of:
        _paired_bars(ax_of["c"], summary, _PAIRED_KEYS["c"], colors,
                     "(c) Correction rate = (d) suffix pass@4, by prefix kind" if merged
                     else "(c) Correction rate by prefix kind",
                     "correction rate = suffix pass@4" if merged else "correction rate")
    if "d" in ax_of:
        _paired_bars(ax_of["d"], summary, _PAIRED_KEYS["d"], colors,
                     "(d) Suffix-group pass@4 by prefix kind", "suffix pass@4")
    for ax in ax_of.values():
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[len(panels):] if panels else []:
        ax.set_axis_off()
    if left_out:
        fig.supxlabel("Not shown: " + "; ".join(left_out) + ".", fontsize=8, color="#555")
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return fig


def eval_bars(rows: list[dict], colors: dict[str, str], path: Path):
    """Final pass@k per suite (x) and agent (bars) with the 95% interval as error bars."""
    cats = sorted({(r["suite"], r["split"], r["k"]) for r in rows})
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.5, 2.2 * len(cats) + 2) + 1.8, 4.2), layout="constrained")
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(cats))
    for i, group in enumerate(groups):
        heights, errs = [], [[], []]
        for cat in cats:
            row = next((r for r in rows if r["group"] == group
                        and (r["suite"], r["split"], r["k"]) == cat), None)
            mean = row["pass_at_k"]["mean"] if row else None
            lo, hi = row["ci95"] if row else (None, None)
            heights.append(mean or 0.0)
            errs[0].append(mean - lo if mean is not None and lo is not None else 0)
            errs[1].append(hi - mean if mean is not None and hi is not None else 0)
        ax.bar(x - 0.4 + width * (i + 0.5), heights, width, yerr=errs, capsize=4,
               color=colors[group], label=group)
    ax.set_xticks(x, [f"{s}/{sp}\npass@{k}" for s, sp, k in cats])
    ax.set_ylabel("pass@k (95% CI over tasks)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Final evaluation", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return fig
