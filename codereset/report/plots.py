"""The report's figures (matplotlib, Agg backend, PNG files): learning curves with speed-up
marks, compute breakdown, reset diagnostics, the four oracle panels, and final evaluation bars.
Every function takes already-aggregated data and a path, writes one PNG and returns nothing;
colours are fixed per agent so a group looks the same in every figure.
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


def _tokens_text(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if x < 10_000 else EngFormatter(places=1)(x)


def learning_curves(rows: list[CurveRow], colors: dict[str, str], path: Path) -> None:
    fig, axes = plt.subplots(len(rows), 2, figsize=(13, 4.4 * len(rows)), squeeze=False)
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
                            va="bottom", fontsize=9, color="#333")
            elif row.speedups:
                ax.annotate("no speed-up: the baseline did not gain", xy=(0.01, 0.98),
                            xycoords="axes fraction", va="top", fontsize=9, color="#333")
            ax.set_xlabel("generated tokens (cumulative; every kind of generation)"
                          if tokens else "training step")
            ax.set_ylabel(row.ylabel)
            lo, hi = ax.get_ylim()  # rates: never below 0, and a flat 0 curve is not zoomed in
            ax.set_ylim(max(lo, -0.02), max(hi, 0.1))
            xs = {float(x) for c in curves.values() for x in c.x}
            if len(xs) == 1:  # one point: centre it instead of a sub-step axis
                (x0,) = xs
                ax.set_xlim(x0 - max(1.0, 0.5 * x0), x0 + max(1.0, 0.5 * x0))
            if tokens:
                ax.xaxis.set_major_formatter(EngFormatter())
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=9, loc="best")
            else:  # e.g. only the step-0 evaluation so far: no tokens generated yet
                ax.text(0.5, 0.5, "no points yet", ha="center", va="center", transform=ax.transAxes,
                        color="#777")
            ax.set_title(f"{row.ylabel} vs {'generated tokens' if tokens else 'step'}",
                         fontsize=11)
    fig.suptitle("Learning curves: mean ± 1 standard error over seeds", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _stacked(ax, labels, parts: dict[str, list[float]], colors: list[str], x) -> None:
    bottom = np.zeros(len(labels))
    for (name, values), color in zip(parts.items(), colors):
        vals = np.nan_to_num(np.array(values, dtype=float))
        ax.bar(x, vals, 0.38, bottom=bottom, label=name, color=color, edgecolor="white")
        bottom += vals


def compute_bars(labels: list[str], time_parts: dict[str, list[float]],
                 token_parts: dict[str, list[float]], reused: list[float], path: Path) -> None:
    """Stacked bars per agent: seconds per step by phase, tokens per step by kind."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 4.4))
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
    for ax in (left, right):
        ax.margins(y=0.08)  # headroom above the tallest stack
        ax.set_xticks(x, labels)
        ax.set_xlabel("agent")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def reset_diagnostics(positions: dict[str, list[float]], signal: dict[str, Curve],
                      correction: dict[str, Curve], colors: dict[str, str], path: Path) -> None:
    """Histogram of h*/n per agent; share with signal and correction rate vs step."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
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
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _paired_bars(ax, data: dict[str, dict], keys: tuple[str, str], colors, title, ylabel):
    labels = list(data)
    x = np.arange(len(labels))
    for offset, key, hatch in ((-0.2, keys[0], ""), (0.2, keys[1], "//")):
        means = [data[l][key]["mean"] for l in labels]
        errs = [data[l][key]["se"] for l in labels]
        ax.bar(x + offset, [m if m is not None else 0 for m in means], 0.38,
               yerr=[e if e is not None else 0 for e in errs], capsize=4,
               color=[colors[l] for l in labels], hatch=hatch, edgecolor="black", alpha=0.85)
        for xi, m in zip(x + offset, means):
            ax.annotate("n/a" if m is None else f"{m:.2f}", (xi, m or 0), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, labels)
    ax.set_xlabel("agent")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.08)
    ax.set_title(title, fontsize=11)
    ax.legend(handles=[Patch(facecolor="white", edgecolor="black", label="clean prefix"),
                       Patch(facecolor="white", edgecolor="black", hatch="//",
                             label="erroneous prefix")], fontsize=9)


def oracle_panels(deviations: dict[str, list[float]], by_deviation: dict[str, dict[int, dict]],
                  summary: dict[str, dict], colors: dict[str, str], path: Path,
                  ref: str = "h_oracle") -> None:
    """The four panels: deviation histogram, correction rate by deviation, and correction rate
    and suffix pass@4 for clean vs erroneous prefixes; `ref` names the reference first error."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.8))
    (a, b), (c, d) = axes
    values = [v for vs in deviations.values() for v in vs]
    width = 0.8 / max(1, len(deviations))
    if values:
        lo, hi = math.floor(min(values)), math.ceil(max(values))
        edges = np.arange(lo - 0.5, hi + 1.5, 1.0)
        for i, (label, vs) in enumerate(deviations.items()):
            counts, _ = np.histogram(vs, bins=edges)
            share = counts / max(1, len(vs))
            centres = edges[:-1] + 0.5 - 0.4 + width * (i + 0.5)
            a.bar(centres, share, width, color=colors[label], label=f"{label} ({len(vs)})")
        a.axvline(0, color="#333", ls="--", lw=1)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend(fontsize=9)
    else:
        a.text(0.5, 0.5, "no localization of a seed\nwith an oracle-found error",
               ha="center", va="center", transform=a.transAxes, color="#777")
    a.set_xlabel(f"localization deviation h* − {ref} (≤ 0: clean prefix)")
    a.set_ylabel("share of localizations")
    a.set_title("(a) Deviation from the oracle's first error", fontsize=11)
    devs = sorted({dv for table in by_deviation.values() for dv in table})
    width = 0.8 / max(1, len(by_deviation))
    for i, (label, table) in enumerate(by_deviation.items()):
        xs = [dv - 0.4 + width * (i + 0.5) for dv in table]
        rates = [cell["rate"] for cell in table.values()]
        b.bar(xs, rates, width, color=colors[label], label=label)
        for x, cell in zip(xs, table.values()):
            b.annotate(f"n={cell['groups']}", (x, cell["rate"]), ha="center", va="bottom",
                       fontsize=7, xytext=(0, 2), textcoords="offset points")
    if devs:
        b.axvline(0.5, color="#333", ls="--", lw=1)
        b.xaxis.set_major_locator(MaxNLocator(integer=True))
        b.legend(fontsize=9)
    else:
        b.text(0.5, 0.5, "no reset group with an oracle-found error\nin samples.jsonl",
               ha="center", va="center", transform=b.transAxes, color="#777")
    b.set_ylim(0, 1.1)
    b.set_xlabel(f"localization deviation h* − {ref}")
    b.set_ylabel("correction rate (any suffix correct)")
    b.set_title("(b) Correction rate by deviation", fontsize=11)
    _paired_bars(c, summary, ("correction_rate_clean", "correction_rate_erroneous"), colors,
                 "(c) Correction rate by prefix kind", "correction rate")
    _paired_bars(d, summary, ("suffix_pass_at_4_clean", "suffix_pass_at_4_erroneous"), colors,
                 "(d) Suffix-group pass@4 by prefix kind", "suffix pass@4")
    for ax in (a, b, c, d):
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def eval_bars(rows: list[dict], colors: dict[str, str], path: Path) -> None:
    """Final pass@k per suite (x) and agent (bars) with the 95% interval as error bars."""
    cats = sorted({(r["suite"], r["split"], r["k"]) for r in rows})
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.5, 2.2 * len(cats) + 2), 4.2))
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
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
