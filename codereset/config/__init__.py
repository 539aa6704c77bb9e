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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from codereset.generation.options import HFConfig, VLLMConfig
from codereset.losses import LossConfig
from codereset.models.config import ModelConfig
from envs.rules import DEFAULT_STOP


@dataclass
class EnvConfig:
    """The Thought-MDP environment: which gym id, which task suite, and its rules.

    id: Gymnasium id of the env whose rules and suites are used ("ThoughtMDP-Code-v0" or
        "ThoughtMDP-Math-v0"); the suite's kind must match it.
    tasks: task suite name (`envs.tasks.SUITES`: "basic", "stdio", "humaneval", "arith", ...).
    train_split: split the training prompts come from.
    val_split: split of the periodic validation.
    suite_seed: seed of procedural suites (which problems are generated).
    suite_options: extra keywords for the suite loader (e.g. {n: 200} or {path: file.jsonl}).
    fewshot: prompts show one worked example as a previous chat turn (small models need it).
    stop: the stop pattern that ends every thought.
    max_thoughts: thought budget of an episode (reaching it truncates).
    max_thought_tokens: token budget of one thought (running out truncates the episode).
    code_reward: how a code answer's test results become its reward (`envs.verify.CODE_REWARDS`):
        "fraction" (the share of test cases passed; the answer is correct only when all pass) or
        "all_or_nothing" (1.0 when every case passes, else 0.0).
    """

    id: str = "ThoughtMDP-Code-v0"
    tasks: str = "basic"
    train_split: str = "train"
    val_split: str = "val"
    suite_seed: int = 0
    suite_options: dict[str, Any] = field(default_factory=dict)
    fewshot: bool = True
    stop: str = DEFAULT_STOP
    max_thoughts: int = 20
    max_thought_tokens: int = 256
    code_reward: str = "fraction"


@dataclass
class SandboxConfig:
    """Where code answers run, and the limits that shape their reward (a limit hit fails the
    case that hit it; `sandboxes.specs.Limits` has the defaults' reasons).

    kind: "auto" (the strongest available: docker > bwrap > local), "docker", "bwrap" or
        "local" (`sandboxes.make_sandbox`).
    workers: parallel sandbox workers; None = one per CPU.
    wall_time_s: wall-clock seconds per candidate process ("timeout").
    cpu_time_s: CPU seconds per candidate process ("cpu_limit"); None = wall_time_s + 1.
    memory_mb: memory the candidate may add to the interpreter ("memory_limit").
    max_processes: processes and threads a candidate may run at once ("process_limit").
    """

    kind: str = "auto"
    workers: Optional[int] = None
    wall_time_s: float = 5.0
    cpu_time_s: Optional[float] = None
    memory_mb: int = 1024
    max_processes: int = 16


@dataclass
class BackendConfig:
    """The generation backend (`codereset.generation.BACKENDS`) and each backend's own options.

    name: "hf" (Hugging Face generate), "vllm" (vLLM offline engine) or "auto" where the
        generation package offers it (vLLM when it can serve the model, else HF); presets
        backend=hf|vllm|auto.
    hf: options of the HF backend (`codereset.generation.hf.HFConfig`), e.g. backend.hf.max_batch_size.
    vllm: options of the vLLM backend (`codereset.generation.vllm.VLLMConfig`), e.g.
        backend.vllm.kv_cache_gib.
    """

    name: str = "hf"
    hf: HFConfig = field(default_factory=HFConfig)
    vllm: VLLMConfig = field(default_factory=VLLMConfig)


@dataclass
class SamplingConfig:
    """How rollout thoughts are sampled (the per-thought token budget is env.max_thought_tokens).

    temperature: softmax temperature (0 = greedy).
    top_p: nucleus mass in (0, 1].
    mode: how thoughts are drawn (`codereset.rollout.MODES`): "per_thought" (one generate call
        per thought, ended by the stop pattern) or "continuous" (one call per rollout, cut at the
        stop pattern afterwards: the same distribution, no re-encoding of the prefix per thought,
        much faster with the HF backend on a CPU).
    batching: how a step's generation is cut into backend calls (`codereset.rollout.BATCHING`):
        "step" (few large calls, seed search in one speculative round, scoring overlapped with
        generation) or "per_round" (the old cut, kept as the benchmark's baseline).
    """

    temperature: float = 0.7
    top_p: float = 0.95
    mode: str = "per_thought"
    batching: str = "step"


@dataclass
class LocalizeConfig:
    """SRPO's self-localization prompt (`codereset.localize`).

    variant: "L2" hides the correct answer (default), "L1" shows the task's reference answer.
    worked_example: show one worked localization example before the question.
    temperature: sampling temperature of the answer.
    top_p: nucleus mass of the answer.
    max_new_tokens: token budget of the answer.
    answer_prefix: text the model's answer turn starts with (appended after the chat template's
        generation prompt; parsed as part of the answer). "" (default) leaves the whole answer to
        the model, as method.md writes it; the main job sets `localize.ANSWER_PREFIX` ("The first
        erroneous step is Step "), because SmolLM2-135M otherwise mostly echoes the attempt and
        runs out of tokens (benchmarks/localization_probe.py).
    fallback: rule for unparseable / out-of-range answers: "uniform" (h* uniform in 1..n, the
        RRPO reset), "last" (h* = n) or "first" (h* = 1).
    """

    variant: str = "L2"
    worked_example: bool = True
    temperature: float = 0.3
    top_p: float = 1.0
    max_new_tokens: int = 256
    answer_prefix: str = ""
    fallback: str = "uniform"


@dataclass
class ValuesConfig:
    """Monte-Carlo state values (`codereset.values`): VinePPO's advantages and the `mc` oracle.

    k: continuations sampled from each state to estimate its value.
    drop_threshold: the MC oracle's first error is the first thought after which the estimated
        value drops by more than this.
    diagnose: also estimate the MC first error of every reset seed and log the agent's h*
        against it (metrics mc_h_oracle, mc_localization_deviations; tokens_mc): localization
        quality on suites without an exact oracle (code).
    """

    k: int = 8
    drop_threshold: float = 0.25
    diagnose: bool = False


@dataclass
class CritiqueConfig:
    """Critique-GRPO (`codereset.agents.critique_grpo`).

    variant: critique text: "binary" (says the answer is incorrect; the release's) or "reference"
        (also shows the task's reference answer).
    refinements: refinement slots per prompt (the rest of buffer.slots are original rollouts).
    """

    variant: str = "binary"
    refinements: int = 1


@dataclass
class ScoreConfig:
    """SCoRe two-attempt self-correction (`codereset.agents.score`).

    alpha: stage-II shaping weight: the second attempt's training reward is
        r2 + alpha * (r2 - r1).
    """

    alpha: float = 1.0


@dataclass
class TreeConfig:
    """SPO-tree segment tree (`codereset.agents.spo_tree`).

    preset: "release" (branching [2, 4], 600-token segments) or "spo_paper" ([6, 6, 6], 600).
    branching: children per node at each depth; None = the preset's.
    segment_tokens: a segment ends at the first thought boundary at or past this many tokens;
        None = the preset's.
    """

    preset: str = "release"
    branching: Optional[list[int]] = None
    segment_tokens: Optional[int] = None


@dataclass
class AgentConfig:
    """Which method chooses the reset states or builds the groups (`codereset.agents.AGENTS`).

    name: "grpo", "rrpo", "srpo", "caro", "critique_grpo", "score", "spo_tree" or "vineppo";
        chosen with `+agent=NAME` (no default on purpose).
    localize: SRPO's localization settings (unused by the other agents).
    oracle: CARO's oracle: "auto" (the exact step-level oracle where the suite has one, else
        Monte-Carlo), "exact" or "mc" (`codereset.values.mc_first_error`).
    values: Monte-Carlo value settings (VinePPO, the mc oracle).
    critique: Critique-GRPO's settings. score: SCoRe's. tree: SPO-tree's.
    """

    name: str = MISSING
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    oracle: str = "auto"
    values: ValuesConfig = field(default_factory=ValuesConfig)
    critique: CritiqueConfig = field(default_factory=CritiqueConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    tree: TreeConfig = field(default_factory=TreeConfig)


@dataclass
class BufferConfig:
    """The per-prompt rollout buffer (`codereset.buffer`).

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
        log-probs, so loss.name=clipped clips on the later ones; `codereset.update`).
    forward: how the update runs rollouts through the model (`codereset.forwards.FORWARDS`):
        "shared_prefix" (each shared prompt / reset prefix once, the same gradient) or "plain".
    advantage: advantage estimator (`codereset.advantages.ADVANTAGES`), applied per group.
    output_dir: run directory; None = Hydra's run directory.
    resume: continue the run in output_dir from its latest checkpoint.
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
    loss: policy loss (`codereset.losses.LossConfig`: "pg" default, "clipped").
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
        checkpoint) or a checkpoint directory; the model config still gives the architecture.
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


def apply_torch_threads(threads: Optional[int]) -> None:
    """torch.set_num_threads(threads) unless None (then torch's default stays)."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"torch_threads must be >= 1 or null, got {threads}")
    import torch

    torch.set_num_threads(threads)


def unknown_keys(cfg: DictConfig, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Keys of a composed config that its schema does not declare, as (dotted key, the valid keys
    at that level). Hydra's `+group.key=value` adds a key even to a structured config, and
    `OmegaConf.to_object` then drops it silently; this finds it. Open mappings (fields typed
    `dict`, e.g. env.suite_options) hold any key."""
    schema = OmegaConf.get_type(cfg)
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return []
    fields = [f.name for f in dataclasses.fields(schema)]
    found = []
    for key in cfg.keys():
        path = f"{prefix}{key}"
        if key not in fields:
            found.append((path, sorted(fields)))
            continue
        child = cfg._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            found += unknown_keys(child, f"{path}.")
    return found


def check_keys(cfg: DictConfig) -> None:
    """Raise ValueError naming each key the schema does not have, with the valid keys beside it."""
    bad = unknown_keys(cfg)
    if bad:
        raise ValueError("; ".join(f"unknown config key {k!r} (valid keys here: {', '.join(valid)})"
                                   for k, valid in bad))


def conf_dir() -> str:
    """The directory of the YAML configs: codereset/conf inside an installed wheel (pyproject maps
    the checkout's conf/ there), else conf/ beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if (packaged / "train.yaml").is_file() else here.parent / "conf")


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (called by the entry points, not on import)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="evaluate_schema", node=EvaluateConfig)
