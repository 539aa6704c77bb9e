"""End to end: `python -m codereset.train +agent=NAME model=tiny trainer.steps=2
trainer.output_dir=DIR` for every agent (the command form outside checks use), the run directory
it leaves, the command-line errors, and the buffer scored by the real sandbox on real tasks."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from scripted_policy import ScriptedBackend, byte_tokenizer, split_prefix

from codereset.agents import AgentContext, make_agent
from codereset.rollouts.buffer import BufferBuilder
from codereset.config import AgentConfig, BufferConfig
from codereset.rollouts.rollout import Roller
from codereset.run.rundir import owner_alive
from codereset.run.schema import METRICS
from envs.rules import ThoughtRules
from envs.tasks import load_suite
from envs.verify import Verifier

ROOT = Path(__file__).resolve().parents[2]
ORACLE_KEYS = set(METRICS.of("oracle"))


def train(*args, timeout=420):
    return subprocess.run([sys.executable, "-m", "codereset.train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def check_run_dir(out: Path, agent: str, suite: str, steps: int = 2) -> None:
    cfg = OmegaConf.load(out / "config.yaml")
    assert (cfg.agent.name, cfg.seed, cfg.env.tasks, cfg.model.name) == (agent, 0, suite, "tiny")
    metrics = rows(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == list(range(1, steps + 1))
    for m in metrics:
        METRICS.check(m, {"agent"} | ({"oracle"} if suite == "arith" else set())
                      | ({"validation"} if m["step"] == steps else set()))
        assert m["tokens_generated"] == m["tokens_trained"] + m["tokens_seed_search"] + m["tokens_localization"]
        assert 0.0 <= m["pass_rate"] <= 1.0 and m["skipped_update"] is False
        assert all(m[k] >= 0 for k in m if k.startswith("time_"))
        assert (ORACLE_KEYS <= set(m)) == (suite == "arith")
    assert "val_pass_rate" not in metrics[0] and 0.0 <= metrics[-1]["val_pass_rate"] <= 1.0
    samples = rows(out / "samples.jsonl")
    assert {s["step"] for s in samples} == set(range(1, steps + 1))
    groups = {s["group"] for s in samples}
    assert ("reset" in groups) == (agent != "grpo") and "base" in groups
    for s in samples:
        assert len(s["rewards"]) == len(s["rollouts"]) and all(r["thoughts"] for r in s["rollouts"])
    start, ev = rows(out / "eval.jsonl")  # validation.at_start: the starting policy is step 0
    assert (start["step"], start["split"], start["n_tasks"]) == (0, "val", 8)
    assert (ev["step"], ev["split"], ev["k"], ev["n_tasks"]) == (steps, "val", 1, 8)
    val_samples = rows(out / "eval_samples.jsonl")  # one greedy rollout per val task, as scored
    assert [v["step"] for v in val_samples] == [0] * 8 + [steps] * 8
    assert [v["task_id"] for v in val_samples[8:]] == [t["task_id"] for t in ev["per_task"]]
    assert [int(v["correct"]) for v in val_samples[:8]] == [t["correct"] for t in start["per_task"]]
    assert [int(v["correct"]) for v in val_samples[8:]] == [t["correct"] for t in ev["per_task"]]
    assert all(v["split"] == "val" and "verdict" in v for v in val_samples)
    latest = (out / "checkpoints" / "latest").read_text().strip()
    assert latest == f"step_{steps:06d}"
    assert (out / "checkpoints" / latest / "trainer_state.pt").is_file()
    assert (out / "checkpoints" / latest / "model" / "config.json").is_file()
    assert list((out / "tb").glob("events.out.tfevents.*"))
    status = json.loads((out / "run_status.json").read_text())
    owner = status.pop("owner")
    assert status == {"state": "finished", "last_step": steps, "total_steps": steps}
    assert owner_alive(owner) is False          # the run's process has ended


@pytest.mark.parametrize("agent, extra, suite", [
    ("grpo", [], "basic"), ("rrpo", [], "basic"), ("srpo", [], "basic"),
    ("caro", ["env=math_arith"], "arith")])
def test_each_agent_runs_two_steps_and_leaves_a_complete_run_dir(agent, extra, suite, tmp_path):
    out = tmp_path / "run"
    proc = train(f"+agent={agent}", "model=tiny", "trainer.steps=2", f"trainer.output_dir={out}", *extra)
    assert proc.returncode == 0, proc.stderr[-4000:]
    check_run_dir(out, agent, suite)


def test_no_agent_fails_with_the_list_of_agents(tmp_path):
    proc = train("model=tiny", f"trainer.output_dir={tmp_path}")
    assert proc.returncode == 2
    from codereset.agents import AGENTS

    assert f"+agent=NAME, one of {sorted(AGENTS)}" in proc.stderr and "'entropy'" in proc.stderr


def test_unknown_agent_fails_with_the_known_ones(tmp_path):
    proc = train("+agent=ppo", f"trainer.output_dir={tmp_path}")
    assert proc.returncode != 0
    assert "Could not find 'agent/ppo'" in proc.stderr
    assert all(name in proc.stderr for name in ("caro", "grpo", "rrpo", "srpo"))


def test_caro_with_the_exact_oracle_on_a_suite_without_one_fails_clearly(tmp_path):
    proc = train("+agent=caro", "agent.oracle=exact", "model=tiny", f"trainer.output_dir={tmp_path}")
    assert proc.returncode == 2 and "env=math_arith" in proc.stderr and "agent.oracle=mc" in proc.stderr


def test_buffer_scored_by_the_real_sandbox_on_basic_tasks():
    """Reference solutions pass every hidden test, a broken one does not (sandbox "auto")."""
    tasks = load_suite("basic", split="train")[:2]
    by_problem = {t.problem: t for t in tasks}
    draws = iter(range(1000))

    def policy(text, j):
        problem, thoughts = split_prefix(text)
        task = by_problem[problem]
        if len(thoughts) == 0 and next(draws) % 4 == 1:       # every 4th fresh rollout is wrong
            return "\n```python\ndef broken(:\n```</thought>"
        return task.reference[min(len(thoughts), len(task.reference) - 1)]

    tok = byte_tokenizer()
    backend = ScriptedBackend(tok, policy)
    rules = ThoughtRules()
    agent = make_agent("rrpo", AgentConfig(name="rrpo"), AgentContext(backend, rules, random.Random(0)))
    with Verifier(sandbox="auto", rules=rules) as verifier:
        buf = BufferBuilder(BufferConfig(), agent, Roller(backend, rules), verifier).build(tasks)
    for p in buf.prompts:
        base = p.groups[0]
        assert base.rewards == [1.0, 0.0, 1.0, 1.0]
        assert [r.outcome.status for r in base.rollouts][1] == "syntax_error"
        assert p.seeds == [base.rollouts[1]]


def test_a_sweep_writes_one_run_dir_per_job_named_by_its_overrides(tmp_path):
    proc = train("-m", "+agent=grpo,srpo", "model=tiny", "trainer.steps=1", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    agents = {}
    # run-control keys (trainer.steps, ...) stay out of the names: a re-run with more steps lands here
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["+agent=grpo,model=tiny",
                                                                         "+agent=srpo,model=tiny"]
    for agent in ("grpo", "srpo"):
        out = tmp_path / f"+agent={agent},model=tiny"
        agents[agent] = OmegaConf.load(out / "config.yaml").agent.name
        assert [r["step"] for r in rows(out / "metrics.jsonl")] == [1]
        assert json.loads((out / "run_status.json").read_text())["state"] == "finished"
    assert agents == {"grpo": "grpo", "srpo": "srpo"}


def test_a_sweep_refuses_a_shared_output_dir(tmp_path):
    proc = train("-m", "+agent=grpo,srpo", "model=tiny", f"trainer.output_dir={tmp_path}",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode != 0 and "hydra.sweep.dir" in proc.stderr


def test_non_finite_updates_are_logged_and_stop_the_run(tmp_path):
    from hydra import compose, initialize_config_dir

    from codereset.train import register
    from codereset.run.trainer import Trainer
    from codereset.learn.update import UpdateResult

    register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "+agent=grpo", "model=tiny", "env=math_arith", "trainer.steps=5",
            "trainer.max_nonfinite_steps=2", "trainer.progress=false", f"trainer.output_dir={tmp_path}"])
    trainer = Trainer(OmegaConf.to_object(cfg), tmp_path, OmegaConf.to_yaml(cfg))
    trainer.setup()
    trainer.updater.step = lambda rollouts, advantages: UpdateResult(None, None, True, len(rollouts), 0, 0)
    assert trainer.train() == "failed"
    metrics = rows(tmp_path / "metrics.jsonl")
    assert [(m["step"], m["skipped_update"], m["loss"]) for m in metrics] == [(1, True, None), (2, True, None)]
    assert json.loads((tmp_path / "run_status.json").read_text())["state"] == "failed"
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_000002"
