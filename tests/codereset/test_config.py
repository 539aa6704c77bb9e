"""Hydra composition of conf/: defaults, presets, errors that list the known names, structured
typing (unknown keys rejected, `+` or not; each backend's options typed), and documentation of
every config field."""

import dataclasses
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

import codereset.config as config_module
from codereset.config import BackendConfig, SandboxConfig, TrainConfig, check_keys, conf_dir, unknown_keys
from codereset.generation.hf import HFConfig
from codereset.generation.vllm import VLLMConfig
from codereset.models.config import LoRAConfig, ModelConfig
from codereset.train import ConfigError, check_agent, register
from sandboxes.specs import Limits

CONF = str(Path(__file__).resolve().parents[2] / "conf")


@pytest.fixture(scope="module", autouse=True)
def hydra_schemas():
    register()


def cfg(*overrides, name="train"):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def test_defaults_follow_method_md():
    c = cfg("+agent=srpo")
    assert c.agent.name == "srpo"
    assert c.model.name == "smollm2-135m-instruct"
    assert (c.env.id, c.env.tasks, c.env.stop) == ("ThoughtMDP-Code-v0", "basic", "</thought>")
    assert c.sandbox.kind == "auto" and c.backend.name in ("hf", "auto")
    assert (c.sampling.temperature, c.sampling.top_p) == (0.7, 0.95)
    assert (c.buffer.split, c.buffer.slots, c.buffer.max_attempts) == ("1x4", 8, 12)
    assert (c.agent.localize.variant, c.agent.localize.temperature) == ("L2", 0.3)
    assert (c.loss.name, c.trainer.advantage) == ("pg", "group_norm")
    assert (c.optim.lr, c.optim.weight_decay, c.optim.grad_clip) == (5e-5, 0.01, 1.0)
    assert c.logging.tensorboard and not c.logging.wandb
    assert c.trainer.checkpoint_every == 1 and not c.trainer.resume


def test_dataclass_defaults_are_the_method_defaults():
    t = TrainConfig()
    assert (t.env.max_thoughts, t.env.max_thought_tokens) == (20, 256)
    assert (t.buffer.probe_size, t.buffer.search_batch) == (4, 4)


def test_no_agent_fails_listing_the_agents():
    c = cfg()
    assert OmegaConf.is_missing(c.agent, "name")
    from codereset.agents import AGENTS

    with pytest.raises(ConfigError, match=re.escape(f"+agent=NAME, one of {sorted(AGENTS)}")):
        check_agent(c)


@pytest.mark.parametrize("override, known", [
    ("+agent=ppo", ["caro", "grpo", "rrpo", "srpo"]),
    ("model=huge", ["lora", "smollm2", "tiny"]),
    ("env=chess", ["code_basic", "math_arith"]),
    ("backend=tgi", ["hf", "vllm"]),
    ("sandbox=vm", ["auto", "bwrap", "docker", "local"]),
])
def test_unknown_group_option_lists_the_known_ones(override, known):
    with pytest.raises(MissingConfigException) as err:
        cfg(override)
    for name in known:
        assert name in str(err.value)


@pytest.mark.parametrize("agent", ["grpo", "rrpo", "srpo", "caro"])
def test_every_agent_preset(agent):
    c = cfg(f"+agent={agent}", "env=math_arith")
    assert c.agent.name == agent
    assert (c.env.id, c.env.tasks) == ("ThoughtMDP-Math-v0", "arith")


def test_tiny_preset_shrinks_the_thought_budget_and_the_command_line_wins():
    assert (cfg("+agent=srpo", "model=tiny").env.max_thought_tokens) == 16
    assert cfg("+agent=srpo", "model=tiny", "env.max_thought_tokens=40").env.max_thought_tokens == 40
    assert cfg("+agent=srpo").env.max_thought_tokens == 96           # the main job's budget


def test_typos_and_bad_types_are_rejected():
    with pytest.raises(ConfigCompositionException, match="stepz"):
        cfg("+agent=srpo", "trainer.stepz=3")
    with pytest.raises(ConfigCompositionException, match="steps"):
        cfg("+agent=srpo", "trainer.steps=many")
    with pytest.raises(ConfigCompositionException, match="max_batchsize"):
        cfg("+agent=srpo", "backend.hf.max_batchsize=3")


@pytest.mark.parametrize("override, key", [
    ("+trainer.stepz=3", "trainer.stepz"), ("+stepz=3", "stepz"), ("+env.taks=arith", "env.taks"),
    ("+backend.hf.max_batchsize=3", "backend.hf.max_batchsize"), ("+model.lora.rank=8", "model.lora.rank"),
])
def test_keys_added_with_plus_are_found_with_the_valid_ones(override, key):
    c = cfg("+agent=srpo", override)          # Hydra adds the key; the schema check finds it
    ((found, valid),) = unknown_keys(c)
    assert found == key
    parent = OmegaConf.select(c, key.rpartition(".")[0]) if "." in key else c
    assert valid == sorted(f for f in parent.keys() if f != key.rpartition(".")[2])
    with pytest.raises(ValueError, match=rf"unknown config key '{key}' \(valid keys here: "):
        check_keys(c)


def test_open_mappings_take_any_key():
    c = cfg("+agent=srpo", "+env.suite_options.path=tasks.jsonl", "+backend.vllm.engine_kwargs.tp=2")
    assert unknown_keys(c) == [] and c.env.suite_options.path == "tasks.jsonl"


def test_backend_presets_type_each_backends_options():
    c = cfg("+agent=srpo", "backend=vllm", "backend.vllm.kv_cache_gib=2.5", "backend.hf.max_batch_size=8")
    assert c.backend.name == "vllm" and c.backend.vllm.kv_cache_gib == 2.5
    b = OmegaConf.to_object(c).backend
    assert type(b) is BackendConfig and type(b.hf) is HFConfig and type(b.vllm) is VLLMConfig
    assert b.hf.max_batch_size == 8
    with pytest.raises(ConfigCompositionException, match="kv_cache_gib"):
        cfg("+agent=srpo", "backend.vllm.kv_cache_gib=lots")
    assert OmegaConf.to_object(cfg("+agent=srpo", "backend=hf")).backend.hf == HFConfig()
    assert OmegaConf.to_object(cfg("+agent=srpo", "backend=vllm")).backend.vllm == VLLMConfig()


def test_sandbox_limits_are_config_with_the_sandbox_defaults(tmp_path):
    from codereset.run.builders import sandbox_limits

    assert sandbox_limits(SandboxConfig()) == Limits()
    c = cfg("+agent=srpo", "sandbox.wall_time_s=2.5", "sandbox.memory_mb=512", "sandbox.workers=3")
    saved = OmegaConf.create(OmegaConf.to_yaml(c, resolve=True))   # what config.yaml holds
    assert (saved.sandbox.wall_time_s, saved.sandbox.memory_mb, saved.sandbox.workers) == (2.5, 512, 3)
    limits = sandbox_limits(OmegaConf.to_object(c).sandbox)
    assert (limits.wall_time_s, limits.memory_mb, limits.cpu_s) == (2.5, 512, 3.5)


def test_to_object_gives_the_dataclasses_and_the_model_helper_config():
    c = OmegaConf.to_object(cfg("+agent=rrpo", "model=lora", "model.lora.target_modules=[q_proj,v_proj]"))
    assert isinstance(c, TrainConfig)
    assert type(c.model) is ModelConfig and type(c.model.lora) is LoRAConfig
    assert (c.model.lora.enabled, c.model.lora.r, c.model.lora.alpha) == (True, 64, 64)
    assert c.model.lora.target_modules == ["q_proj", "v_proj"]
    assert OmegaConf.to_object(cfg("+agent=rrpo", "model=lora")).model.lora.target_modules == ["all-linear"]
    assert not hasattr(config_module, "hydra_safe")


def test_conf_dir_is_the_checkouts_conf():
    assert Path(conf_dir()).resolve() == Path(CONF).resolve()


def test_evaluate_config_composes():
    c = cfg("model=tiny", "env.tasks=humaneval", "eval.k=[1,5]", name="evaluate")
    assert (c.model.name, c.env.tasks, list(c.eval.k)) == ("tiny", "humaneval", [1, 5])


def config_dataclasses():
    return [obj for obj in vars(config_module).values()
            if dataclasses.is_dataclass(obj) and isinstance(obj, type)
            and obj.__module__.startswith(config_module.__name__ + ".")]  # config/<section>.py


def test_every_field_is_documented_in_its_class_docstring():
    classes = config_dataclasses()
    assert len(classes) >= 12
    for cls in classes:
        doc = cls.__doc__ or ""
        for f in dataclasses.fields(cls):
            assert re.search(rf"\b{f.name}:", doc), f"{cls.__name__}.{f.name} is not documented"


def test_reading_the_config_schema_imports_no_backend():
    """A config error must come fast: the schema (backend options included) imports neither
    transformers nor vLLM, and each backend re-exports the very dataclass the schema uses."""
    import subprocess
    import sys

    code = ("import sys, codereset.config; "
            "print(sorted(m for m in ('transformers', 'vllm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert BackendConfig().hf.__class__ is HFConfig and BackendConfig().vllm.__class__ is VLLMConfig
