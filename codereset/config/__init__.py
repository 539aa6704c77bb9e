"""Structured (dataclass) configs of training and evaluation, registered with Hydra's ConfigStore.

`TrainConfig` is the schema behind `conf/train.yaml` (`python -m codereset.train`),
`EvaluateConfig` the one behind `conf/evaluate.yaml` (`python -m codereset.evaluate`). Every field
and its default is here; the YAML files under `conf/` only pick presets (config groups: agent,
model, env, backend, sandbox) and the CPU budget of the main job. Defaults follow
shared/docs/method.md; the model config (`ModelConfig`) and the loss config (`LossConfig`) are the
model helper's, reused as they are; each generation backend's options are that backend's own
dataclass (`HFConfig`, `VLLMConfig`, in `codereset.generation.options`, which imports no backend)
under `backend.hf` / `backend.vllm`.

Every node is typed, and `unknown_keys` reports keys the schema does not have (Hydra's `+key=`
adds them silently), so a typo fails with the list of valid keys instead of being ignored.

Split by section (one module each; every public name is re-exported here, so
`from codereset.config import X` is the way to import any of them):
- `config/env.py`: EnvConfig, SandboxConfig, BackendConfig (shared by training and evaluation);
- `config/agent.py`: AgentConfig and its methods' sections (LocalizeConfig, ValuesConfig,
  CritiqueConfig, ScoreConfig, TreeConfig);
- `config/train.py`: TrainConfig and the training-only sections (SamplingConfig, BufferConfig,
  OptimConfig, TrainerConfig, ValidationConfig, LoggingConfig);
- `config/evaluate.py`: EvaluateConfig, EvalOptions;
- `config/store.py`: register_configs, conf_dir, unknown_keys, check_keys, apply_torch_threads.
The sections owned elsewhere (ModelConfig, LossConfig, HFConfig, VLLMConfig) are re-exported too.
"""

from codereset.config.agent import (AgentConfig, CritiqueConfig, LocalizeConfig, ScoreConfig, TreeConfig,
                                    ValuesConfig)
from codereset.config.env import BackendConfig, EnvConfig, SandboxConfig
from codereset.config.evaluate import EvalOptions, EvaluateConfig
from codereset.config.store import apply_torch_threads, check_keys, conf_dir, register_configs, unknown_keys
from codereset.config.train import (BufferConfig, LoggingConfig, OptimConfig, SamplingConfig, TrainConfig,
                                    TrainerConfig, ValidationConfig)
from codereset.generation.options import HFConfig, VLLMConfig
from codereset.learn.losses import LossConfig
from codereset.models.config import ModelConfig

__all__ = [
    "AgentConfig", "BackendConfig", "BufferConfig", "CritiqueConfig", "EnvConfig", "EvalOptions", "EvaluateConfig",
    "HFConfig", "LocalizeConfig", "LoggingConfig", "LossConfig", "ModelConfig", "OptimConfig", "SamplingConfig",
    "SandboxConfig", "ScoreConfig", "TrainConfig", "TrainerConfig", "TreeConfig", "ValidationConfig",
    "VLLMConfig", "ValuesConfig",
    "apply_torch_threads", "check_keys", "conf_dir", "register_configs", "unknown_keys",
]
