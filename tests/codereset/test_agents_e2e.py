"""End to end for the agents that build their own groups, CARO's MC oracle and the MC localization
diagnostics of SRPO:
`python -m codereset.train +agent=NAME model=tiny trainer.steps=2` on the `basic` code suite
(the real sandbox scores every rollout), and the run directory it leaves."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real tiny-model runs (minutes); .ci/run runs this module

ROOT = Path(__file__).resolve().parents[2]
EXTRA_TOKEN_KINDS = {"tokens_mc"}  # generated outside every rollout: part of tokens_generated


def rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.mark.parametrize("agent, extra, keys, groups", [
    ("critique_grpo", [], {"refinement_correct"}, {"critique"}),
    ("score", [], {"score_improvements", "tokens_trained_second_attempt"}, {"first_attempt", "second_attempt"}),
    ("spo_tree", ["agent.tree.segment_tokens=16"], {"tree_leaves", "tokens_trained_tree"}, {"tree"}),
    ("vineppo", ["agent.values.k=2"], {"tokens_mc", "mc_start_values"}, {"base"}),
    ("caro", ["agent.values.k=2"], set(), {"base", "reset"}),   # basic has no exact oracle: mc
    ("srpo", ["agent.values.diagnose=true", "agent.values.k=2"],   # h* against the MC first error
     {"mc_h_oracle", "mc_localization_deviations", "mc_correction_rate_clean", "mc_reset_groups_clean",
      "tokens_mc"}, {"base", "reset"}),
])
def test_two_steps_on_the_tiny_model_with_the_real_sandbox(agent, extra, keys, groups, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "codereset.train", f"+agent={agent}", "model=tiny",
                           "trainer.steps=2", f"trainer.output_dir={out}", "trainer.progress=false", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = rows(out / "metrics.jsonl")          # the writer checked each row against the schema
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert keys <= set(m), keys - set(m)
        extra_tokens = sum(m[k] for k in EXTRA_TOKEN_KINDS & set(m))
        assert m["tokens_generated"] == (m["tokens_trained"] + m["tokens_seed_search"]
                                         + m["tokens_localization"] + extra_tokens)
        assert 0.0 <= m["pass_rate"] <= 1.0 and m["rollouts_trained"] > 0 and m["skipped_update"] is False
    samples = rows(out / "samples.jsonl")
    assert {s["group"] for s in samples} - {"seed_search"} == groups
    assert all(len(s["rewards"]) == len(s["rollouts"]) for s in samples)
    if agent == "spo_tree":  # paired (default): 2 first-level episodes + 2 untrained probe draws per prompt
        assert all(m["tokens_seed_search"] > 0 for m in metrics)
        assert any(s["group"] == "seed_search" and len(s["rollouts"]) == 2 for s in samples)
    if agent == "caro":
        resets = [s for s in samples if s["group"] == "reset"]
        assert resets and all(s["oracle"] == "mc" and len(s["mc_values"]) == s["seed_n_thoughts"] + 1
                              for s in resets)
        assert all(m["tokens_localization"] > 0 for m in metrics)  # the MC oracle's continuations
    if "agent.values.diagnose=true" in extra:  # each reset group carries its seed's MC verdict
        resets = [s for s in samples if s["group"] == "reset"]
        assert resets and all("mc_h_oracle" in s for s in resets)
        assert sum(len(m["mc_h_oracle"]) for m in metrics) == len(resets)
    status = json.loads((out / "run_status.json").read_text())
    assert status["state"] == "finished" and status["last_step"] == 2
