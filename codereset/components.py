"""Build the pieces a run needs from its config: rules, tasks, policy, backend, verifier.

Shared by the trainer and `codereset.evaluate`, so both read the config the same way.
"""

from __future__ import annotations

from typing import Any

from envs.rules import ThoughtRules


def make_rules(env_cfg: Any) -> ThoughtRules:
    """The Thought-MDP rules of the env config."""
    return ThoughtRules(stop=env_cfg.stop, max_thoughts=env_cfg.max_thoughts,
                        max_thought_tokens=env_cfg.max_thought_tokens)


def load_tasks(env_cfg: Any, split: str, max_tasks: int | None = None) -> list:
    """Tasks of env_cfg.tasks for `split`, after checking the suite belongs to env_cfg.id."""
    import envs
    from envs.tasks import load_suite
    from envs.tasks.registry import suite_spec

    if env_cfg.id not in envs.ENV_IDS:
        raise ValueError(f"unknown env id {env_cfg.id!r}; known: {sorted(envs.ENV_IDS)}")
    spec = suite_spec(env_cfg.tasks)
    kind = envs.ENV_IDS[env_cfg.id]
    if spec.kind not in (kind, "any"):
        matching = sorted(n for n, s in envs.SUITES.items() if s.kind == envs.ENV_IDS[env_cfg.id])
        raise ValueError(f"task suite {env_cfg.tasks!r} is a {spec.kind} suite but env {env_cfg.id} "
                         f"is for {envs.ENV_IDS[env_cfg.id]} tasks; pick one of {matching} or the "
                         "matching env preset (env=code_basic, env=math_arith, ...)")
    tasks = load_suite(env_cfg.tasks, split=split, seed=env_cfg.suite_seed, **dict(env_cfg.suite_options))
    if spec.kind == "any":  # a file format holding code and math tasks: keep this env's kind
        tasks = [t for t in tasks if t.kind == kind]
        if not tasks:
            raise ValueError(f"task suite {env_cfg.tasks!r} ({split} split) holds no {kind} tasks "
                             f"for env {env_cfg.id}; check the file's `kind` fields or pick the other env")
    if max_tasks is not None:
        if max_tasks < 0:
            raise ValueError(f"max_tasks must be >= 0 or null, got {max_tasks}")
        tasks = tasks[:max_tasks]
    return tasks


def load_policy(model_cfg: Any) -> tuple[Any, Any]:
    """(model, tokenizer) through the model helper's `load_model`."""
    from codereset.config import to_original
    from codereset.models import load_model

    return load_model(to_original(model_cfg))


def make_generation_backend(backend_cfg: dict, model: Any, tokenizer: Any) -> Any:
    """The generation backend named by backend_cfg["name"], with the remaining options."""
    from codereset.generation import make_backend

    options = dict(backend_cfg)
    if "name" not in options:
        raise ValueError("backend config needs a name, e.g. backend=hf or backend=vllm")
    return make_backend(options["name"], model, tokenizer, options)


def make_verifier(sandbox_cfg: Any, rules: ThoughtRules) -> Any:
    """The rewards' verifier; code answers run in the configured sandbox (started lazily)."""
    from envs.verify import Verifier

    return Verifier(sandbox=sandbox_cfg.kind, rules=rules)
