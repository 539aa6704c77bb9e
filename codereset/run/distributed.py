"""Multi-process data parallelism for the trainer (`accelerate launch` / `torchrun`).

Owns who this process is (`DistInfo`: rank, world size, local rank, read from the environment
variables every launcher sets), the process group, and the few collectives the trainer needs.
With one process every function is the identity and nothing is initialised, so a plain
`python -m codereset.train` is untouched.

How a data-parallel step works (codereset.run.trainer):
  - every rank draws the same global batch of `prompts_per_step` prompts and keeps its shard
    (`shard`: prompts rank, rank + W, ...), builds that shard's buffer with its own generation
    backend and sandbox, and samples with its own random stream (`step_seed`); with
    backend=vllm that backend is the rank's own engine, on its own GPU or share of the CPUs and
    with its own seed (`codereset.generation.vllm_placement`), reloaded after every update;
  - the update (codereset.learn.update) scales each rollout's loss by 1 / B with B the GLOBAL number of
    trained rollouts and sums gradients over ranks (`all_reduce_`): the gradient is exactly the
    one-process gradient of the whole batch, so clipping and the AdamW step are identical on
    every rank and the replicas never drift apart (no DistributedDataParallel wrapper: the
    number of micro-batches differs between ranks, which DDP's hooks cannot express);
  - rank 0 gathers the other ranks' buffers (`gather`, `merge_buffers`) to write one metrics row
    for the whole step, validates, and writes every file of the run directory; the other ranks
    write nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence

import torch
import torch.distributed as tdist

from codereset.rollouts.buffer import StepBuffer
from codereset.run.timing import PhaseTimes


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job; world_size 1 = no data parallelism."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env(env: dict | None = None) -> DistInfo:
    """Rank, world size and local rank from RANK / WORLD_SIZE / LOCAL_RANK (set by
    `accelerate launch` and `torchrun`); one process when they are absent."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", 1))
        rank = int(env.get("RANK", 0))
        local = int(env.get("LOCAL_RANK", rank))
    except ValueError as err:
        raise ValueError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {err}") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad launcher environment: RANK={rank} WORLD_SIZE={world}")
    return DistInfo(rank, world, local)


def init(info: DistInfo) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU); a no-op for one process."""
    if not info.enabled or tdist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    # Rank 0 validates while the others wait in the next collective: allow a long wait.
    tdist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size,
                             timeout=timedelta(minutes=60))


def shutdown(info: DistInfo) -> None:
    if info.enabled and tdist.is_initialized():
        tdist.destroy_process_group()


def _device() -> torch.device:
    if tdist.is_initialized() and tdist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def shard(items: Sequence[Any], info: DistInfo) -> list[Any]:
    """This rank's share of a global batch: items rank, rank + W, rank + 2W, ..."""
    return list(items[info.rank :: info.world_size])


def step_seed(seed: int, rank: int, step: int) -> int:
    """A 63-bit seed for (run seed, rank, step): independent streams per rank, and a resumed
    data-parallel run draws exactly what it would have drawn."""
    digest = hashlib.sha256(f"codereset:{seed}:{rank}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def all_reduce_(tensors: Sequence[torch.Tensor], op: str = "sum") -> None:
    """Reduce tensors of one dtype in place across ranks (one collective on a flat buffer)."""
    if not tensors or not tdist.is_initialized():
        return
    ops = {"sum": tdist.ReduceOp.SUM, "min": tdist.ReduceOp.MIN, "max": tdist.ReduceOp.MAX}
    flat = torch.cat([t.detach().reshape(-1).to(_device()) for t in tensors])
    tdist.all_reduce(flat, op=ops[op])
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def all_reduce_grads_(params: Sequence[torch.nn.Parameter]) -> None:
    """Sum every parameter's gradient over ranks (a missing gradient counts as zeros)."""
    if not tdist.is_initialized():
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in params:
        by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in by_dtype.values():
        all_reduce_(grads, "sum")


def sum_values(values: Sequence[float]) -> list[float]:
    """Element-wise sum of a few numbers over ranks (float64)."""
    t = torch.tensor(list(values), dtype=torch.float64)
    all_reduce_([t], "sum")
    return t.tolist()


def all_true(flag: bool) -> bool:
    """True when `flag` is True on every rank."""
    t = torch.tensor([1 if flag else 0], dtype=torch.int64)
    all_reduce_([t], "min")
    return bool(t.item())


def gather(obj: Any) -> list[Any]:
    """Every rank's `obj` (picklable), in rank order, on every rank."""
    if not tdist.is_initialized():
        return [obj]
    out: list[Any] = [None] * tdist.get_world_size()
    tdist.all_gather_object(out, obj)
    return out


def merge_buffers(parts: Sequence[StepBuffer]) -> StepBuffer:
    """One StepBuffer from every rank's share (`gather`): the prompts in rank order; each phase's
    wall time is the slowest rank's (the ranks build in parallel); gen_calls and gen_rows are
    summed over ranks (each rank has its own backend), so gen_rows_per_call is the mean over
    all of the step's calls. A count some rank's backend does not keep stays None."""
    times = PhaseTimes()
    for part in parts:
        for name, seconds in part.times.seconds.items():
            times.seconds[name] = max(times.seconds[name], seconds)
    return StepBuffer([p for part in parts for p in part.prompts], times,
                      gen_calls=_sum_or_none([part.gen_calls for part in parts]),
                      gen_rows=_sum_or_none([part.gen_rows for part in parts]))


def _sum_or_none(counts: Sequence[int | None]) -> int | None:
    return None if not counts or any(c is None for c in counts) else sum(counts)


def broadcast(obj: Any, info: DistInfo) -> Any:
    """Rank 0's `obj` on every rank."""
    if not info.enabled:
        return obj
    box = [obj if info.is_main else None]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_params_(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank (replicas start identical even when
    the weights were initialised at random)."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            on_device = t.data.to(_device())  # the tensor itself when already there
            tdist.broadcast(on_device, src=0)
            if on_device is not t.data:
                t.data.copy_(on_device)
