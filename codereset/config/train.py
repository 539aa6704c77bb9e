"""`TrainConfig`, the schema of `python -m codereset.train`, and the sections only training has:
rollout sampling, the per-prompt buffer, the optimizer, the training loop, validation and logging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from codereset.config.agent import AgentConfig
from codereset.config.env import BackendConfig, EnvConfig, SandboxConfig
from codereset.learn.losses import LossConfig
from codereset.models.config import ModelConfig


@dataclass
class SamplingConfig:
    """How rollout thoughts are sampled (the per-thought token budget is env.max_thought_tokens).

    temperature: softmax temperature (0 = greedy).
    top_p: nucleus mass in (0, 1].
    mode: how thoughts are drawn (`codereset.rollouts.rollout.MODES`): "per_thought" (one generate call
        per thought, ended by the stop pattern) or "continuous" (one call per rollout, cut at the
        stop pattern afterwards: the same distribution, no re-encoding of the prefix per thought,
        much faster with the HF backend on a CPU).
    batching: how a step's generation is cut into backend calls (`codereset.rollouts.rollout.BATCHING`):
        "step" (few large calls, seed search in one speculative round, scoring overlapped with
        generation), "graph" (as step, but every prompt's chain of first draws, search,
        localization and reset group runs as its own task, all at once: needs backend=vllm
        backend.vllm.engine=async; `codereset.rollouts.graph`) or "per_round" (the old cut, kept
        as the benchmark's baseline).
    """

    temperature: float = 0.7
    top_p: float = 0.95
    mode: str = "per_thought"
    batching: str = "step"


@dataclass
class BufferConfig:
    """The per-prompt rollout buffer (`codereset.rollouts.buffer`).

    split: "<seeds>x<suffixes>": 1x4 (default: base group of 4 + one reset group of 4), 2x4, 1x8.
    slots: trained rollouts per prompt; the base group gets slots - seeds*suffixes (GRPO: all).
    probe_size: fresh rollouts drawn first when the split leaves no base group (untrained; they
        give the pass rate and start the seed search).
    max_attempts: most fresh rollouts per prompt while searching seeds, first draws included.
    search_batch: fresh rollouts drawn per prompt per seed-search round.
    """

    split: str = "1x4"
    slots: int = 8
    probe_size: int = 4
    max_attempts: int = 12
    search_batch: int = 4


@dataclass
class OptimConfig:
    """AdamW and gradient clipping (the paper's settings).

    lr: learning rate. weight_decay: decoupled weight decay. betas: Adam betas.
    eps: Adam epsilon. grad_clip: max global gradient norm (0 disables clipping).
    """

    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    grad_clip: float = 1.0


@dataclass
class TrainerConfig:
    """The training loop.

    steps: optimizer steps (one on-policy step per batch of prompts).
    prompts_per_step: prompts per batch (the paper uses 32).
    micro_batch_size: rollouts per forward/backward pass (gradient accumulation inside a step).
    mini_batches: optimizer steps per rollout batch (1 = method.md's one on-policy step; the
        release does 4: each mini-batch is whole prompts, with the sampler's log-probs as old
        log-probs, so loss.name=clipped clips on the later ones; `codereset.learn.update`).
    forward: how the update runs rollouts through the model (`codereset.learn.forwards.FORWARDS`):
        "shared_prefix" (each shared prompt / reset prefix once, the same gradient) or "plain".
    advantage: advantage estimator (`codereset.learn.advantages.ADVANTAGES`), applied per group.
    output_dir: run directory; None = Hydra's run directory.
    resume: continue the run in output_dir from its latest checkpoint. On the command line,
        trainer.resume=RUN_DIR continues a run (or every job of a sweep folder) from its saved
        config alone (`codereset.run.resume_cli`).
    checkpoint_every: save a checkpoint every this many steps (and always at the end / on Ctrl-C).
    keep_checkpoints: step-numbered checkpoints kept (older ones are deleted).
    max_nonfinite_steps: stop the run after this many skipped updates in a row (NaN/inf loss).
    progress: show a progress bar (step, pass rate, ETA).
    paired: common random numbers across agents: the first base-group draws of every prompt at
        step t (an agent with its own groups: its first fresh draws, `BufferBuilder.first_draws`)
        come from one generate call seeded by (seed, rank, t), so runs of different agents
        with the same seed see the same prompts (always: the task order depends on the seed only)
        and start each step's buffer from identical base groups as long as their weights agree;
        they differ only where the agents differ. The report pairs such runs by seed.
    """

    steps: int = 10
    prompts_per_step: int = 4
    micro_batch_size: int = 8
    mini_batches: int = 1
    forward: str = "shared_prefix"
    advantage: str = "group_norm"
    output_dir: Optional[str] = None
    resume: bool = False
    checkpoint_every: int = 1
    keep_checkpoints: int = 1
    max_nonfinite_steps: int = 3
    progress: bool = True
    paired: bool = True


@dataclass
class ValidationConfig:
    """Periodic greedy pass@1 on the env's validation split.

    every: validate every this many steps (0 = never during training).
    at_end: validate after the last step too.
    at_start: validate the starting policy before step 1 (eval.jsonl rows with step 0), so a
        curve's start is measured, not assumed; skipped on resume when step 0 was already done.
    max_tasks: validate on the first this many tasks of the split (None = all).
    """

    every: int = 5
    at_end: bool = True
    at_start: bool = True
    max_tasks: Optional[int] = 16


@dataclass
class LoggingConfig:
    """What the run directory gets besides metrics.jsonl.

    samples: write samples.jsonl (every group of every step: thoughts, reset point, rewards) and
        eval_samples.jsonl (each validation rollout: thoughts, finish, verdict).
    max_sample_groups: most groups written per step (None = all).
    tensorboard: write TensorBoard event files under tb/.
    wandb: also log to Weights & Biases (needs the wandb package and its login).
    wandb_project: W&B project name.
    """

    samples: bool = True
    max_sample_groups: Optional[int] = None
    tensorboard: bool = True
    wandb: bool = False
    wandb_project: str = "codereset"


@dataclass
class TrainConfig:
    """`python -m codereset.train`: everything one training run needs.

    seed: seeds python, numpy, torch, the task order and the agent's random stream.
    torch_threads: CPU threads torch uses within an op (torch.set_num_threads); None keeps
        torch's default (one per core). Small models run faster on 1 (model=tiny sets it).
    model: which model to train (`codereset.models.ModelConfig`; presets: model=smollm2|tiny|lora).
    env: env, task suite and Thought-MDP rules (presets: env=code_basic|code_stdio|math_arith|...).
    sandbox: where code answers run (presets: sandbox=auto|local|bwrap|docker).
    backend: generation backend: its name and each backend's options (BackendConfig).
    agent: the method (presets: +agent=grpo|rrpo|srpo|caro; required).
    buffer: per-prompt buffer (split, slots, seed search).
    sampling: rollout sampling.
    loss: policy loss (`codereset.learn.losses.LossConfig`: "pg" default, "clipped").
    optim: AdamW and gradient clipping.
    trainer: steps, batch, run directory, checkpoints, resume.
    validation: periodic greedy pass@1.
    logging: samples, TensorBoard, W&B.
    """

    seed: int = 0
    torch_threads: Optional[int] = None
    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
