"""load_tasks: the env/suite kind check, including file suites that hold both kinds (jsonl)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from codereset.run.builders import load_tasks

FIXTURE = Path(__file__).parents[2] / "envs" / "fixtures" / "tasks.jsonl"


def _env(env_id, tasks, **options):
    return SimpleNamespace(id=env_id, tasks=tasks, suite_seed=0, suite_options=options)


@pytest.mark.parametrize("env_id, kind", [("ThoughtMDP-Code-v0", "code"), ("ThoughtMDP-Math-v0", "math")])
def test_jsonl_suite_keeps_the_envs_kind(env_id, kind):
    tasks = load_tasks(_env(env_id, "jsonl", path=str(FIXTURE)), split="train")
    assert tasks and all(t.kind == kind for t in tasks)


def test_math_suite_refused_by_code_env():
    with pytest.raises(ValueError, match="is a math suite"):
        load_tasks(_env("ThoughtMDP-Code-v0", "arith"), split="train")
