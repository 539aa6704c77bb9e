"""Localization prompts belong to the model they were made for: every model preset and every
experiment preset composes, and its SRPO prompt is the one its model declares (a warm-start's
is what `codereset.sft` taught; SmolLM2's prefix reaches no other model)."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from codereset.config import conf_dir, register_configs
from codereset.run.preflight import ConfigError, check_localize_prompt, compose, warm_start_prompt
from codereset.sft.config import SFTConfig
from codereset.sft.data import LOCALIZE_ANSWER_PREFIX

register_configs()   # the structured schemas (train_schema) Hydra composes with
CONF = Path(conf_dir())
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SMOLLM2_PREFIX = "The first erroneous step is Step "
TAUGHT = {"variant": SFTConfig().localize_variant, "worked_example": SFTConfig().localize_worked_example,
          "answer_prefix": LOCALIZE_ANSWER_PREFIX}


def localize(cfg):
    return OmegaConf.to_container(cfg.agent.localize)


def test_every_model_preset_has_its_own_localization_prompt():
    assert sorted(p.stem for p in (CONF / "localize_prompt").glob("*.yaml")) == MODELS


@pytest.mark.parametrize("model", MODELS)
def test_a_prefix_is_only_ever_applied_to_the_model_it_was_made_for(model):
    cfg = compose(["+agent=srpo", f"model={model}"], "train")
    loc = localize(cfg)
    if loc["answer_prefix"]:
        assert loc["made_for"] == cfg.model.name
    else:
        assert loc["made_for"] is None


def test_smollm2_keeps_its_tuned_prompt_and_other_models_get_the_neutral_one():
    assert localize(compose(["+agent=srpo"], "train"))["answer_prefix"] == SMOLLM2_PREFIX
    for model in ("lora", "tiny"):
        assert localize(compose(["+agent=srpo", f"model={model}"], "train"))["answer_prefix"] == ""


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_presets_ask_with_what_their_model_declares(experiment):
    cfg = compose([f"+experiment={experiment}", "+agent=srpo"], "train")
    loc = localize(cfg)
    name = str(cfg.model.name)
    if name.startswith("outputs/sft/") or warm_start_prompt(name) is not None:   # a warm-start: what codereset.sft taught
        assert {k: loc[k] for k in TAUGHT} == TAUGHT
    assert SMOLLM2_PREFIX not in loc["answer_prefix"] or loc["made_for"] == cfg.model.name


def test_another_model_name_on_a_tuned_preset_is_refused():
    cfg = compose(["+agent=srpo", "model.name=Qwen/Qwen2.5-0.5B-Instruct"], "train")
    with pytest.raises(ConfigError, match="tuned for model 'smollm2-135m-instruct'"):
        check_localize_prompt(cfg)
    check_localize_prompt(compose(["+agent=rrpo", "model.name=Qwen/Qwen2.5-0.5B-Instruct"], "train"))
    check_localize_prompt(compose(["+agent=srpo", "model=lora", "model.name=Qwen/Qwen2.5-0.5B-Instruct"], "train"))


def test_a_warm_start_is_asked_only_with_the_prompt_it_was_taught(tmp_path):
    (tmp_path / "sft_summary.json").write_text('{"localize_prompt": {"variant": "L2", "worked_example": false, '
                                               '"answer_prefix": ""}}')
    check_localize_prompt(compose(["+experiment=arith_tiny", "+agent=srpo", f"model.name={tmp_path}"], "train"))
    cfg = compose(["+experiment=arith_tiny", "+agent=srpo", f"model.name={tmp_path}",
                   f"agent.localize.answer_prefix='{SMOLLM2_PREFIX}'"], "train")
    with pytest.raises(ConfigError, match="warm-started to localize with agent.localize.answer_prefix=''"):
        check_localize_prompt(cfg)
