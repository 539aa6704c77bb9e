"""benchmarks/sweep_io.py: the CPU record of a sweep and the run-file readers, known answers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import sweep_io  # noqa: E402

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 fma avx512f
processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 fma avx512f
"""


def test_cpu_model_names_the_cpu_and_its_simd_flags():
    assert sweep_io.cpu_model(CPUINFO) == {"model": "AMD EPYC 9B14", "simd": ["avx512f", "avx2", "fma"]}
    bare = sweep_io.cpu_model("processor\t: 0\n")          # no model line, no flags (another OS)
    assert bare["simd"] == [] and bare["model"]


def test_last_pass_at_1_reads_the_last_k1_row(tmp_path):
    rows = [{"step": 0, "k": 1, "pass_at_k": 0.1}, {"step": 5, "k": 1, "pass_at_k": 0.3},
            {"step": 5, "k": 4, "pass_at_k": 0.9}]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert sweep_io.last_pass_at_1(tmp_path / "eval.jsonl") == 0.3
    assert sweep_io.last_pass_at_1(tmp_path / "missing.jsonl") is None
