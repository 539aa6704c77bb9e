"""The report's localization section against the Monte-Carlo first error (`agent.values.diagnose`,
mc_* metric keys, mc_h_oracle in samples.jsonl): the same rule and numbers as against the exact
oracle, so the fixture's exact-oracle runs with their keys renamed must give the same table."""

from __future__ import annotations

import json

from codereset.report import ReportConfig, build_report
from codereset.report.tables import MC_ORACLE_COLUMNS, ORACLE_COLUMNS
from tests.codereset.report.report_fixtures import markdown_table, write_sweep

EXACT_KEYS = {key for key, _, _, _ in ORACLE_COLUMNS}
RENAMED = ("localization_deviation", "localization_deviations", "correction_rate_clean",
           "correction_rate_erroneous", "suffix_pass_at_4_clean", "suffix_pass_at_4_erroneous",
           "reset_groups_clean", "reset_groups_erroneous")


def _to_mc(sweep):
    """Rename every exact-oracle key of the sweep's runs to its mc_ key (a code suite: no exact one)."""
    for metrics in sweep.glob("*/metrics.jsonl"):
        rows = [json.loads(line) for line in metrics.read_text().splitlines()]
        for row in rows:
            for key in RENAMED:
                if key in row:
                    row[f"mc_{key}"] = row.pop(key)
        metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for samples in sweep.glob("*/samples.jsonl"):
        rows = [json.loads(line) for line in samples.read_text().splitlines()]
        for row in rows:
            if "h_oracle" in row:
                row["mc_h_oracle"] = row.pop("h_oracle")
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_mc_section_matches_the_exact_one_on_the_same_numbers(tmp_path):
    exact = write_sweep(tmp_path / "exact", oracle=True)
    mc = write_sweep(tmp_path / "mc", oracle=True)
    _to_mc(mc)
    a = build_report([exact], tmp_path / "a", ReportConfig(smooth=1))
    b = build_report([mc], tmp_path / "b", ReportConfig(smooth=1))
    md_a, md_b = a.markdown.read_text(), b.markdown.read_text()
    assert "Localization against the Monte-Carlo first error" in md_b
    assert "Localization against the oracle" not in md_b
    assert "Monte-Carlo" not in md_a
    rows_a = markdown_table(md_a, "Localization vs the oracle")
    rows_b = markdown_table(md_b, "Localization vs the Monte-Carlo first error")
    assert [list(r.values()) for r in rows_a] == [list(r.values()) for r in rows_b]
    assert b.summary["mc_oracle"] == a.summary["oracle"]
    assert b.summary["mc_oracle_by_deviation"] == a.summary["oracle_by_deviation"]
    assert (tmp_path / "b" / "figures" / "mc_oracle_panels.png").is_file()
    assert not (tmp_path / "b" / "figures" / "oracle_panels.png").exists()


def test_share_within_one_known_answer(tmp_path):
    # fixture srpo deviations per run: odd steps [-1, 0, 2], even steps [0]; 10 steps
    # -> 5 x 3 + 5 x 1 = 20 values, within one: 5 x 2 + 5 = 15 -> 0.75; exact 10/20
    result = build_report([write_sweep(tmp_path / "s", oracle=True)], tmp_path / "o", ReportConfig(smooth=1))
    srpo = result.summary["oracle"]["srpo"]
    assert srpo["share_within_1"]["mean"] == 0.75
    assert srpo["share_exact"]["mean"] == 0.5
    assert srpo["abs_deviation"]["mean"] == (5 * 3 + 0) / 20
    assert {key for key, _, _, _ in MC_ORACLE_COLUMNS} == EXACT_KEYS
