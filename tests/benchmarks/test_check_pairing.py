"""benchmarks/check_pairing.py on synthetic sweep folders: matching first draws pass, one changed
thought is found, and SPO-tree's first-level segments / probe draws follow their own rule."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_pairing", ROOT / "benchmarks/check_pairing.py")
check_pairing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_pairing)


def rollout(text: str) -> dict:
    return {"thoughts": [text[:3], text[3:]], "correct": False}


def write(run: Path, rows: list[dict]) -> None:
    run.mkdir(parents=True)
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def group(task: str, kind: str, texts: list[str], step: int = 1) -> dict:
    return {"step": step, "task_id": task, "group": kind, "rollouts": [rollout(t) for t in texts]}


GRPO = [f"episode-{i}" for i in range(8)]


def sweep(tmp_path: Path, srpo_first: list[str], tree_first: list[str], probe: list[str]) -> Path:
    root = tmp_path / "sweep"
    write(root / "grpo_s0", [group("t", "base", GRPO), group("t", "base", ["later"], step=2)])
    write(root / "srpo_s0", [group("t", "seed_search", ["search"]), group("t", "base", srpo_first),
                             group("t", "reset", ["suffix"] * 4)])
    write(root / "spo_tree_s0", [group("t", "tree", tree_first), group("t", "tree", ["x"] * 4),
                                 group("t", "seed_search", probe)])
    return root


def test_paired_sweep_passes(tmp_path, capsys):
    root = sweep(tmp_path, GRPO[:4], ["epis", "episo"], GRPO[2:4])
    assert check_pairing.main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "srpo seed 0: 1/1" in out and "spo_tree seed 0: 1/1" in out and "check_pairing: ok" in out


def test_a_changed_draw_is_a_mismatch(tmp_path, capsys):
    root = sweep(tmp_path, GRPO[:3] + ["episode-X"], ["epis", "episo"], GRPO[2:4])
    assert check_pairing.main([str(root)]) == 1
    assert "check_pairing: MISMATCH srpo_s0" in capsys.readouterr().out


def test_spo_tree_segment_not_a_prefix_or_probe_changed(tmp_path, capsys):
    assert check_pairing.main([str(sweep(tmp_path / "a", GRPO[:4], ["xpis", "episo"], GRPO[2:4]))]) == 1
    assert check_pairing.main([str(sweep(tmp_path / "b", GRPO[:4], ["epis", "episo"], GRPO[3:5]))]) == 1
    assert capsys.readouterr().out.count("MISMATCH spo_tree_s0") == 2
