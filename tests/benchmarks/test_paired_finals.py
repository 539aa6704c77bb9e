"""benchmarks/paired_finals.py: per-seed differences against the baseline's same seed, known answers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("paired_finals", ROOT / "benchmarks/paired_finals.py")
paired_finals = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(paired_finals)


def write(folder: Path, run: str, finals: list[float]) -> None:
    (folder / run).mkdir(parents=True)
    rows = [{"step": 5 * i, "k": 1, "pass_at_k": v} for i, v in enumerate(finals)]
    rows.insert(1, {"step": 0, "k": 4, "pass_at_k": 0.99})   # other k: ignored
    (folder / run / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_differences_are_paired_by_seed(tmp_path, capsys):
    write(tmp_path / "a", "grpo_s0", [0.1, 0.2])
    write(tmp_path / "a", "grpo_s1", [0.1, 0.3])
    write(tmp_path / "b", "srpo_s0", [0.1, 0.25])
    write(tmp_path / "b", "srpo_s1", [0.1, 0.45])
    write(tmp_path / "b", "srpo_s7", [0.1, 0.9])        # no grpo seed 7: left out
    assert paired_finals.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("srpo"))
    assert "(n=2)" in line and "minus grpo +0.100" in line and "per seed +0.050 +0.150" in line
    assert paired_finals.finals([tmp_path / "b"], "eval.jsonl")["srpo"] == {0: 0.25, 1: 0.45, 7: 0.9}
