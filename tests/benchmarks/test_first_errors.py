"""benchmarks/first_errors.py: the histogram rule on known failures (its smoke run: tests/benchmarks/test_smoke.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import first_errors  # noqa: E402


def test_histogram_late_share_and_modal_thought():
    out = first_errors.first_error_histogram([1, 3, 3, 5, None, 2])
    assert out == {"failures": 6, "no_error_found": 1, "histogram": {"1": 1, "2": 1, "3": 2, "5": 1},
                   "late_share": 3 / 5, "modal": 3}
    assert first_errors.first_error_histogram([None])["late_share"] is None
