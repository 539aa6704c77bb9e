"""Build the pieces a run needs from its typed config: rules, tasks, policy, backend, verifier.

Shared by the trainer and `codereset.evaluate`, so both read the config the same way. Each
builder takes the config node it needs (`EnvConfig`, `ModelConfig`, `BackendConfig`,
`SandboxConfig` of `codereset.config`) and returns the typed component.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from envs.rules import ThoughtRules

if TYPE_CHECKING:
    from codereset.config import BackendConfig, EnvConfig, SandboxConfig
    from codereset.generation import GenerationBackend
    from codereset.models.config import ModelConfig
    from envs.tasks import Task
    from envs.verify import Verifier

log = logging.getLogger("codereset.train")


def make_rules(env_cfg: EnvConfig) -> ThoughtRules:
    """The Thought-MDP rules of the env config."""
    return ThoughtRules(stop=env_cfg.stop, max_thoughts=env_cfg.max_thoughts,
                        max_thought_tokens=env_cfg.max_thought_tokens)


def check_env_suite(env_cfg: EnvConfig) -> str:
    """The env's task kind ("code" / "math") after checking that env_cfg.tasks is a suite of it."""
    import envs
    from envs.tasks.registry import suite_spec

    if env_cfg.id not in envs.ENV_IDS:
        raise ValueError(f"unknown env id {env_cfg.id!r}; known: {sorted(envs.ENV_IDS)}")
    spec = suite_spec(env_cfg.tasks)
    kind = envs.ENV_IDS[env_cfg.id]
    if spec.kind not in (kind, "any"):
        matching = sorted(n for n, s in envs.SUITES.items() if s.kind == kind)
        raise ValueError(f"task suite {env_cfg.tasks!r} is a {spec.kind} suite but env {env_cfg.id} "
                         f"is for {kind} tasks; pick one of {matching} or the matching env preset "
                         "(env=code_basic, env=math_arith, ...)")
    return kind


def load_tasks(env_cfg: EnvConfig, split: str, max_tasks: int | None = None) -> list[Task]:
    """Tasks of env_cfg.tasks for `split`, after checking the suite belongs to env_cfg.id."""
    from envs.tasks import load_suite_of_kind

    kind = check_env_suite(env_cfg)
    # a file of code and math rows: this env's kind, and a warning counting the rows left out
    tasks = load_suite_of_kind(env_cfg.tasks, kind, split=split, seed=env_cfg.suite_seed,
                               **dict(env_cfg.suite_options))
    if max_tasks is not None:
        if max_tasks < 0:
            raise ValueError(f"max_tasks must be >= 0 or null, got {max_tasks}")
        tasks = tasks[:max_tasks]
    return tasks


def warn_if_same_tasks(train: list[Task], val: list[Task], train_split: str, val_split: str) -> bool:
    """Log a warning when every validation task is also a training task (validation then
    measures memorisation, e.g. a JSONL file without `split` fields); returns whether it did."""
    if not val or not train:
        return False
    train_ids = {(t.suite, t.task_id) for t in train}
    if all((t.suite, t.task_id) in train_ids for t in val):
        log.warning("the %r (validation) tasks are all %r (training) tasks: validation measures "
                    "recall, not generalisation; give the file's rows a `split` field (train/val) "
                    "or choose env.val_split", val_split, train_split)
        return True
    return False


def load_policy(model_cfg: ModelConfig) -> tuple[Any, Any]:
    """(model, tokenizer) through the model helper's `load_model`."""
    from codereset.models import load_model

    return load_model(model_cfg)


def make_generation_backend(cfg: BackendConfig, model: Any, tokenizer: Any) -> GenerationBackend:
    """The generation backend cfg.name, built with its own options (cfg.hf / cfg.vllm). A name
    with no options of its own ("auto") gets the whole BackendConfig, so the generation package
    can build whichever backend it picks with that backend's options."""
    from codereset.generation import make_backend

    options = getattr(cfg, cfg.name, None)
    return make_backend(cfg.name, model, tokenizer, options if options is not None else cfg)


def sandbox_limits(cfg: SandboxConfig) -> Any:
    """The per-run `sandboxes.Limits` of the sandbox config (other limits keep their defaults)."""
    from sandboxes.specs import Limits

    return Limits(wall_time_s=cfg.wall_time_s, cpu_time_s=cfg.cpu_time_s, memory_mb=cfg.memory_mb,
                  max_processes=cfg.max_processes)


def make_verifier(sandbox_cfg: SandboxConfig, rules: ThoughtRules, code_reward: str = "fraction") -> Verifier:
    """The rewards' verifier; code answers run in the configured sandbox (started lazily)."""
    from envs.verify import Verifier

    return Verifier(sandbox=sandbox_cfg.kind, rules=rules, code_reward=code_reward,
                    workers=sandbox_cfg.workers, limits=sandbox_limits(sandbox_cfg))
