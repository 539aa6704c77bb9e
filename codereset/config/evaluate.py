"""`EvaluateConfig`, the schema of `python -m codereset.evaluate`, and what it measures (`EvalOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from codereset.config.env import BackendConfig, EnvConfig, SandboxConfig
from codereset.models.config import ModelConfig


@dataclass
class EvalOptions:
    """What `python -m codereset.evaluate` measures.

    split: split of env.tasks to evaluate on.
    k: the k of pass@k (unbiased estimator; each k must be <= n_samples).
    n_samples: samples per task.
    temperature: sampling temperature (0 = greedy; needs n_samples = 1).
    top_p: nucleus mass.
    mode: how thoughts are drawn ("per_thought" or "continuous", see SamplingConfig.mode).
    max_tasks: evaluate the first this many tasks (None = all).
    checkpoint: weights to evaluate instead of model.name's: a run directory (its latest
        checkpoint), its checkpoints/ or a checkpoints/step_* directory. The run's saved config
        gives the model, tokenizer and prompt settings (`codereset.eval.from_run`; a command-line
        override that contradicts them is refused); a checkpoint outside a run folder is loaded
        into the composed model config.
    output_dir: where eval.jsonl goes; None = Hydra's run directory.
    progress: show a progress bar over the tasks.
    """

    split: str = "test"
    k: list[int] = field(default_factory=lambda: [1])
    n_samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    mode: str = "per_thought"
    max_tasks: Optional[int] = None
    checkpoint: Optional[str] = None
    output_dir: Optional[str] = None
    progress: bool = True


@dataclass
class EvaluateConfig:
    """`python -m codereset.evaluate`: a model, an env / task suite, and what to measure.

    seed: torch seed for sampling.
    torch_threads: CPU threads torch uses within an op; None keeps torch's default.
    model: the model (architecture, and weights unless eval.checkpoint is given).
    env: env and task suite (env.tasks) with the Thought-MDP rules.
    sandbox: where code answers run.
    backend: generation backend (BackendConfig).
    eval: what to measure (EvalOptions).
    """

    seed: int = 0
    torch_threads: Optional[int] = None
    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    eval: EvalOptions = field(default_factory=EvalOptions)
