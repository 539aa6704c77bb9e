"""Paired runs (`trainer.paired`, common random numbers): two agents with one seed see the same
prompts and start every step from identical base groups while their weights agree (lr 0 here, so
they agree at every step); unpaired runs draw their base groups from the running stream, which
the agents consume differently."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real tiny-model runs (minutes); .ci/run runs this module

ROOT = Path(__file__).resolve().parents[2]
COMMON = ["model=tiny", "env=math_arith", "trainer.steps=2", "trainer.prompts_per_step=2",
          "optim.lr=0.0", "validation.every=0", "validation.at_end=false", "validation.at_start=false",
          "trainer.progress=false", "seed=3"]


def run(tmp_path: Path, name: str, *args: str) -> dict[tuple[int, str], list[list[str]]]:
    """{(step, task_id): thoughts of each base-group rollout} of one run."""
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "codereset.train", *COMMON, f"trainer.output_dir={out}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    groups = {}
    for line in (out / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["group"] == "base":
            groups[(row["step"], row["task_id"])] = [r["thoughts"] for r in row["rollouts"]]
    return groups


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pairing")
    return {"grpo": run(tmp, "grpo", "+agent=grpo"), "rrpo": run(tmp, "rrpo", "+agent=rrpo"),
            "rrpo_unpaired": run(tmp, "rrpo_u", "+agent=rrpo", "trainer.paired=false")}


def test_paired_agents_see_the_same_prompts_and_identical_first_base_groups(runs):
    grpo, rrpo = runs["grpo"], runs["rrpo"]
    assert set(grpo) == set(rrpo) and len(grpo) == 4            # 2 steps x the same 2 prompts
    for key, rollouts in rrpo.items():
        assert len(rollouts) == 4 and len(grpo[key]) == 8       # 1x4 base group; GRPO's 8 slots
        assert grpo[key][:4] == rollouts                        # the same draws, step 2 included


def test_unpaired_runs_draw_from_the_running_stream(runs):
    grpo, unpaired = runs["grpo"], runs["rrpo_unpaired"]
    assert set(grpo) == set(unpaired)                           # the task order depends on the seed
    assert any(grpo[key][:4] != rollouts for key, rollouts in unpaired.items())
