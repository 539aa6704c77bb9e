"""`backend.vllm.engine` picks the class that drives vLLM through a registry (`options.VLLM_ENGINES`,
`codereset.generation.engine_class`), checked without vLLM: only the names are resolved."""

from __future__ import annotations

import pytest

from codereset.generation import backend_config, engine_class
from codereset.generation.hf import HFBackend
from codereset.generation.options import VLLM_ENGINES, HFConfig, VLLMConfig


class FakeVLLM:
    """Stands in for VLLMBackend's class attributes (importing it would import torch only; the
    point is that engine_class reads the registry, not an if/elif)."""

    Config = VLLMConfig
    ENGINES = {"sync": "codereset.generation.options:HFConfig", "async": "codereset.generation.options:VLLMConfig"}
    ENGINE_OPTION = "engine"


def test_the_engine_option_names_a_registered_class():
    assert engine_class(FakeVLLM, VLLMConfig()) is HFConfig
    assert engine_class(FakeVLLM, backend_config(FakeVLLM, {"engine": "async"})) is VLLMConfig


def test_the_real_registry_names_both_vllm_engines():
    from codereset.generation.vllm import VLLMBackend
    from codereset.generation.vllm_async import AsyncVLLMBackend

    assert engine_class(VLLMBackend, VLLMConfig(engine="sync")) is VLLMBackend
    assert engine_class(VLLMBackend, VLLMConfig(engine="async")) is AsyncVLLMBackend
    assert set(VLLM_ENGINES) == {"sync", "async"}


def test_a_backend_without_engines_is_itself():
    assert engine_class(HFBackend, HFConfig()) is HFBackend


def test_unknown_engine_and_sleep_without_async_are_config_errors():
    with pytest.raises(ValueError, match="unknown vLLM engine 'fast'; known: \\['async', 'sync'\\]"):
        VLLMConfig(engine="fast")
    with pytest.raises(ValueError, match="sleep=true needs backend.vllm.engine=async"):
        VLLMConfig(sleep=True)
    VLLMConfig(engine="async", sleep=True)  # accepted; refused at engine start on a CPU
