"""Per-group oracle records from samples.jsonl and the clean/erroneous weighting."""

import json
import math

from codereset.report.runs import Run
from codereset.report.samples import correction_by_deviation, reset_records
from codereset.report.tables import ORACLE_COLUMNS


def _write(path, rows, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_records_use_correct_flags_then_full_rewards(tmp_path):
    _write(tmp_path / "samples.jsonl", [
        {"step": 1, "group": "reset", "reset_index": 2, "h_oracle": 3,
         "rollouts": [{"correct": False}, {"correct": True}], "rewards": [0.5, 0.9]},
        {"step": 1, "group": "reset", "reset_index": 4, "h_oracle": 3, "rewards": [0.5, 1.0]},
        {"step": 2, "group": "reset", "reset_index": 4, "h_oracle": 3, "rewards": [0.5, 0.9]},
        {"step": 2, "group": "reset", "reset_index": 1, "h_oracle": None, "rewards": [1.0]},
        {"step": 2, "group": "base", "reset_index": None, "h_oracle": 1, "rewards": [1.0]},
        {"step": 2, "group": "reset", "reset_index": 3, "rewards": [1.0]},  # no oracle field
    ], tail='{"step": 3, "group": "reset", "h_oracle": 2, "reset_ind')  # killed mid-line
    records = reset_records(tmp_path)
    assert [(r.step, r.deviation, r.corrected) for r in records] == [
        (1, -1, True), (1, 1, True), (2, 1, False), (2, None, True)]
    table = correction_by_deviation(records)
    assert table == {-1: {"groups": 1, "corrected": 1, "rate": 1.0},
                     1: {"groups": 2, "corrected": 1, "rate": 0.5}}


def test_no_samples_file_gives_no_records(tmp_path):
    assert reset_records(tmp_path) == []


def test_logged_clean_counts_take_priority_over_deviations(tmp_path):
    # The trainer counts groups whose seed the oracle finds no error in as clean, and leaves
    # them out of the deviations: weights must come from reset_groups_clean/erroneous.
    rows = [
        {"step": 1, "localization_deviations": [1], "reset_groups_clean": 3,
         "reset_groups_erroneous": 1, "correction_rate_clean": 1.0,
         "correction_rate_erroneous": 0.0},
        {"step": 2, "localization_deviations": [0], "reset_groups_clean": 1,
         "reset_groups_erroneous": 0, "correction_rate_clean": 0.0,
         "correction_rate_erroneous": None},
    ]
    run = Run(path=tmp_path, metrics=rows)
    columns = {key: fn for key, _, fn, _ in ORACLE_COLUMNS}
    assert columns["correction_rate_clean"](run) == 0.75  # (3*1 + 1*0) / 4
    assert columns["correction_rate_erroneous"](run) == 0.0
    assert columns["share_clean"](run) == 0.8  # 4 clean of 5 judged groups
    assert columns["deviation"](run) == 0.5
    assert math.isnan(columns["suffix_pass_at_4_clean"](run))
