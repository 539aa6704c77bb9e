"""Each figure type on a sweep with one far costlier agent (issue 25 item 11), read from the
matplotlib Figure objects the plot functions return (not from pixels): a logarithmic token axis
when token ranges differ > 10x, legends outside the panels, slanted agent names on bar axes, and
the oracle figure without empty panels, duplicate panels or bars for agents without resets."""

import pytest

from codereset.report import ReportConfig, build_report, plots
from codereset.report.aggregate import Curve
from report_fixtures import write_sweep

FIGURES = ("learning_curves", "compute_bars", "reset_diagnostics", "oracle_panels", "eval_bars")


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """The report of grpo, rrpo, srpo and vineppo (30,000 Monte-Carlo tokens a step, ~30x the
    others' generation), with every plot function's Figure kept."""
    root = tmp_path_factory.mktemp("costly")
    sweep = write_sweep(root / "sweep", agents=("grpo", "rrpo", "srpo", "vineppo"), seeds=(0, 1),
                        oracle=True, val_at_start=True)
    kept = {}
    mp = pytest.MonkeyPatch()
    for name in FIGURES:
        original = getattr(plots, name)
        mp.setattr(plots, name, lambda *a, _f=original, _n=name, **k: kept.setdefault(_n, _f(*a, **k)))
    try:
        build_report([sweep], root / "out", ReportConfig(smooth=1))
    finally:
        mp.undo()
    assert set(kept) == set(FIGURES)
    return kept


def _inside(legend, ax) -> bool:
    """Whether the legend's box overlaps the axes' data area."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):  # closed after saving: give it a canvas back
        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    return legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_token_axes_are_logarithmic_when_one_agent_is_far_costlier(figures):
    axes = figures["learning_curves"].axes
    assert len(axes) == 4  # train and val rows, vs step and vs tokens
    by_step, by_tokens = axes[0::2], axes[1::2]
    assert all(ax.get_xscale() == "linear" for ax in by_step)
    assert [ax.get_xscale() for ax in by_tokens] == ["log", "symlog"]  # val starts at 0 tokens
    assert all("log scale" in ax.get_xlabel() for ax in by_tokens)
    # every legend sits outside its panel (below it), not over the curves or the target label
    for ax in axes:
        legend = ax.get_legend()
        assert legend is not None and len(legend.get_texts()) == 4
        assert not _inside(legend, ax)


def test_token_axis_stays_linear_for_comparable_costs():
    import numpy as np
    import matplotlib.pyplot as plt

    def curve(end):
        x = np.linspace(0, end, 5)
        return Curve(label="a", x=x, mean=x * 0, se=x * 0, n=np.ones(5))
    fig, ax = plt.subplots()
    assert plots.token_axis(ax, {"a": curve(1000.0), "b": curve(9000.0)}) == "linear"
    assert ax.get_xscale() == "linear"
    assert plots.token_axis(ax, {"a": curve(1000.0), "b": curve(11000.0)}) == "symlog"
    plt.close(fig)


def test_compute_bars_label_every_agent_legibly(figures):
    left, right = figures["compute_bars"].axes
    for ax in (left, right):
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks == ["grpo", "rrpo", "srpo", "vineppo"]
        assert all(t.get_rotation() > 0 for t in ax.get_xticklabels())
        assert not _inside(ax.get_legend(), ax)
    totals = [t.get_text() for t in right.texts]
    assert len(totals) == 4 and totals[-1].endswith("k")  # vineppo's ~31 k tokens per step


def test_reset_diagnostics_legends_are_outside(figures):
    axes = figures["reset_diagnostics"].axes
    assert len(axes) == 3
    for ax in axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert not any(l.startswith(("grpo", "vineppo")) for l in labels) and len(labels) == 2
        assert not _inside(ax.get_legend(), ax)


def _bar_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def test_oracle_figure_drops_agents_without_resets_and_keeps_panels_with_data(figures):
    fig = figures["oracle_panels"]
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)", "(d)"]  # the fixture's (c) and (d) differ
    a, b, c, d = fig.axes
    assert [t.get_text().split()[0] for t in a.get_legend().get_texts()] == ["rrpo", "srpo"]
    assert [t.get_text() for t in b.get_legend().get_texts()] == ["rrpo", "srpo"]
    for ax in (c, d):
        assert _bar_labels(ax) == ["rrpo", "srpo"]
        assert "n/a" not in [t.get_text() for t in ax.texts]
        assert len(ax.patches) == 4  # clean and erroneous, per agent with resets
    assert fig.get_supxlabel() == ""  # nothing left out


def _cell(mean, se=0.01):
    return {"mean": mean, "se": se}


def test_oracle_figure_leaves_out_an_empty_panel_and_merges_equal_panels(tmp_path):
    none = {k: _cell(None, None) for k in ("correction_rate_clean", "correction_rate_erroneous",
                                           "suffix_pass_at_4_clean", "suffix_pass_at_4_erroneous")}
    same = {"correction_rate_clean": _cell(0.5), "correction_rate_erroneous": _cell(None, None),
            "suffix_pass_at_4_clean": _cell(0.5), "suffix_pass_at_4_erroneous": _cell(None, None)}
    summary = {"grpo": none, "vineppo": none, "caro": same}
    colors = plots.agent_colors(list(summary))
    fig = plots.oracle_panels({"grpo": [], "vineppo": [], "caro": [0, 0, -1]}, {}, summary, colors,
                              tmp_path / "o.png")
    shown = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title()[:3] for ax in shown] == ["(a)", "(c)"]
    assert "(d)" in shown[1].get_title()  # the merged panel says it is both
    (c,) = shown[1:]
    assert _bar_labels(c) == ["caro"] and len(c.patches) == 1
    assert "n/a" not in [t.get_text() for t in c.texts]
    note = fig.get_supxlabel()
    assert "(b)" in note and "(d)" in note
    assert (tmp_path / "o.png").stat().st_size > 10_000


def test_oracle_figure_without_any_data_is_one_panel_saying_so(tmp_path):
    fig = plots.oracle_panels({}, {}, {}, {}, tmp_path / "o.png")
    assert len(fig.axes) == 1 and "(a)" in fig.get_supxlabel()


def test_eval_bars_legend_is_outside(figures):
    (ax,) = figures["eval_bars"].axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["grpo", "rrpo", "srpo", "vineppo"]
    assert not _inside(ax.get_legend(), ax)
