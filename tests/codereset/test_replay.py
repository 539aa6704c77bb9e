"""Replay as a contract: every rollout the trainer logs replays in the Gymnasium env (reset with its
task_id, step its logged thoughts in order, the last with its logged finish) to the same status
and reward, because both call `envs.transition`.

Fast part: the scripted backend drives the real `Roller` over real `arith` tasks into every kind
of episode end (answer, wrong answer, EOS after a closed thought, EOS mid-thought, token-budget
cut, thought budget, a stop token that carries text into the next thought), in both rollout
modes and from reset states, scored by the real verifier. Slow part: a real tiny-model run per
suite kind (`python -m codereset.train +agent=srpo model=tiny trainer.steps=2`), whose
samples.jsonl and eval_samples.jsonl rows must all replay and whose rows must all hold exactly
the keys of `codereset.run.schema`.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from omegaconf import OmegaConf
from scripted_policy import ScriptedBackend, byte_tokenizer, split_prefix

import envs  # noqa: F401  (registers the env ids)
from codereset.generation.base import Completion
from codereset.rollouts.rollout import Roller
from codereset.run.schema import EVAL, EVAL_SAMPLE, METRICS, ROLLOUT, SAMPLE_GROUP
from envs.rules import ThoughtRules
from envs.tasks import load_suite
from envs.thought_env import ThoughtMDPEnv
from envs.transition import Action
from envs.verify import Verifier

ROOT = Path(__file__).resolve().parents[2]
RULES = ThoughtRules(max_thoughts=6, max_thought_tokens=200)
S = RULES.stop
PLANS = 7  # the scripted behaviours below, chosen by the first thought "plan k"


def replay(env, row: dict) -> tuple[str, float, bool]:
    """Step a logged rollout through `env`; returns (status, reward, correct) at its end."""
    env.reset(options={"task_id": row["task_id"]})
    thoughts = row["thoughts"]
    for i, text in enumerate(thoughts):
        last = i == len(thoughts) - 1
        _, reward, terminated, truncated, info = env.step(Action(text, row["finish"] if last else "stop"))
        assert last or not (terminated or truncated), f"episode ended early at thought {i}: {row}"
    status = "terminated" if terminated else "truncated" if truncated else "continue"
    return status, reward, info["outcome"]["correct"]


def check_replays(env, rows: list[dict]) -> None:
    for row in rows:
        assert replay(env, row) == (row["status"], row["reward"], row["correct"]), row


def make_policy(tasks, tok, carry: bool):
    """The scripted behaviours; `carry` (per-thought mode only: a continuous call has no stop
    string, so its backend never reports one) lets plan 4's stop token carry text along."""
    by_problem = {t.problem: t for t in tasks}

    def policy(text, j):
        problem, thoughts = split_prefix(text)
        task = by_problem[problem]
        if not thoughts:
            return f"plan {j % PLANS}{S}"
        plan, k = int(re.search(r"plan (\d+)", thoughts[0]).group(1)), len(thoughts) - 1
        if plan == 0:                                   # the reference: correct, terminated
            return task.reference[k] if k < len(task.reference) else f"past the end{S}"
        if plan == 1:                                   # EOS right after a closed thought
            return ("", "eos") if k else f"a step{S}"
        if plan == 2:                                   # EOS in the middle of a thought
            return ("I give up", "eos")
        if plan == 3:                                   # no stop pattern: the token budget cuts it
            return "x" * 1000
        if plan == 4 and k == 0 and carry:                        # the stop token carries "\ncarried" along
            ids = tok(f"step{S}\ncarried", add_special_tokens=False)["input_ids"]
            return Completion(ids, tok.decode(ids), "stop")
        if plan in (4, 6):                              # a wrong final answer
            return rf" so \boxed{{-12345}}{S}" if k < 2 else f"past the end{S}"
        return f"more{S}"                               # plan 5: the thought budget runs out

    return policy


@pytest.mark.parametrize("mode", ["per_thought", "continuous"])
def test_scripted_rollouts_replay_in_the_env(mode):
    tasks = [t for t in load_suite("arith", split="train") if len(t.reference) <= 4][:3]
    tok = byte_tokenizer()
    roller = Roller(ScriptedBackend(tok, make_policy(tasks, tok, mode == "per_thought")), RULES, mode=mode)
    fresh = [r for g in roller.run([roller.fresh(t) for t in tasks], PLANS) for r in g]
    starts = [r.reset_state(2) for r in fresh if r.n_thoughts >= 2]
    resets = [r for g in roller.run(starts, 2) for r in g]
    rollouts = fresh + resets
    env = ThoughtMDPEnv(kind="math", tasks=tasks, rules=RULES)
    with Verifier(rules=RULES) as verifier:
        roller.score(verifier, rollouts)
    rows = [r.to_json() for r in rollouts]
    for row in rows:
        ROLLOUT.check(row, {"scored"})
    check_replays(env, rows)
    ends = {(r["status"], r["finish"], r["thoughts"][-1] == "") for r in rows}
    assert {("terminated", "stop", False), ("terminated", "eos", True), ("terminated", "eos", False),
            ("truncated", "length", False), ("truncated", "stop", False)} <= ends
    assert any(r["correct"] for r in rows) and not all(r["correct"] for r in rows)
    if mode == "per_thought":  # the carried text starts the next thought, in trainer and env alike
        assert any(t.startswith("\ncarried") for r in rows for t in r["thoughts"])


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _env_for(cfg, split: str):
    rules = {"stop": cfg.env.stop, "max_thoughts": cfg.env.max_thoughts,
             "max_thought_tokens": cfg.env.max_thought_tokens}
    return gym.make(cfg.env.id, tasks=cfg.env.tasks, split=split, seed=cfg.env.suite_seed,
                    suite_kwargs=dict(cfg.env.suite_options), rules=rules, sandbox=cfg.sandbox.kind)


# The random-init tiny model never writes "</thought>" within its token budget, so its code run
# ends every rollout by the token budget; the math run uses the stop pattern "e" (read from the
# rules everywhere), so its rollouts end thoughts at the stop pattern (a stop-completing token's
# characters past it carried into the next thought) and run into the thought budget.
@pytest.fixture(scope="module", params=[("code_basic", ()), ("math_arith", ("env.stop=e",))],
                ids=["code_basic", "math_arith-stop_e"])
def tiny_run(request, tmp_path_factory):
    env, extra = request.param
    out = tmp_path_factory.mktemp(env) / "run"
    proc = subprocess.run([sys.executable, "-m", "codereset.train", "+agent=srpo", "model=tiny",
                           "trainer.steps=2", f"env={env}", f"trainer.output_dir={out}", "seed=0",
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.mark.slow
def test_a_real_runs_rollouts_replay_in_gym_make(tiny_run):
    cfg = OmegaConf.load(tiny_run / "config.yaml")
    groups = _rows(tiny_run / "samples.jsonl")
    rollouts = [r for g in groups for r in g["rollouts"]]
    assert rollouts
    if cfg.env.stop == "e":  # the stop pattern, its carried characters and the budget are exercised
        assert any(r["status"] == "truncated" and r["finish"] == "stop" for r in rollouts)
        assert any(len(r["thoughts"]) > 1 for r in rollouts)
    env = _env_for(cfg, cfg.env.train_split)
    try:
        check_replays(env, rollouts)
    finally:
        env.close()
    val = _rows(tiny_run / "eval_samples.jsonl")
    env = _env_for(cfg, cfg.env.val_split)
    try:
        check_replays(env, val)
    finally:
        env.close()


@pytest.mark.slow
def test_every_row_a_real_run_writes_has_exactly_the_schema_keys(tiny_run):
    cfg = OmegaConf.load(tiny_run / "config.yaml")
    oracle = cfg.env.tasks == "arith"
    for row in _rows(tiny_run / "metrics.jsonl"):
        METRICS.check(row, {"agent"} | ({"oracle"} if oracle else set())
                      | ({"validation"} if row["step"] == cfg.trainer.steps else set()))
    for row in _rows(tiny_run / "samples.jsonl"):
        reset = row["group"] == "reset"  # the oracle judges the seeds of reset groups
        SAMPLE_GROUP.check(row, ({"reset", "oracle"} if oracle else {"reset"}) if reset else set())
        for r in row["rollouts"]:
            ROLLOUT.check(r, {"scored"})
    for row in _rows(tiny_run / "eval.jsonl"):
        EVAL.check(row)
    for row in _rows(tiny_run / "eval_samples.jsonl"):
        EVAL_SAMPLE.check(row, {"scored"})
