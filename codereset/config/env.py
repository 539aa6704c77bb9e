"""Where episodes happen, shared by training and evaluation: the Thought-MDP env and its task
suite (`EnvConfig`), where code answers run (`SandboxConfig`) and the generation backend with each
backend's own options (`BackendConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from codereset.generation.options import HFConfig, VLLMConfig
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
