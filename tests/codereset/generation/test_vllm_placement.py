"""Where each rank's colocated vLLM engine runs (`vllm_placement`), without vLLM: the launcher's
slot, a seed and a sync directory per rank, each local rank's share of the CPUs, the launcher's
variables kept from the engine's processes, the rank's GPU, and the environment put back."""

from __future__ import annotations

import os

import pytest
import torch

from codereset.generation.vllm_placement import (
    CPU_BIND,
    LAUNCHER_VARIABLES,
    Placement,
    cpu_share,
    engine_environment,
    engine_seed,
    launch_environment,
    rank_sync_dir,
)

TORCHRUN = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29500", "TORCHELASTIC_USE_AGENT_STORE": "True", "GROUP_RANK": "1"}
CPU = torch.device("cpu")


def test_the_launchers_slot_is_read_from_its_variables():
    assert Placement.from_env({}) == Placement(0, 1, 0, 1) and not Placement.from_env({}).enabled
    assert Placement.from_env(TORCHRUN) == Placement(3, 4, 1, 2)
    assert Placement.from_env({"RANK": "1", "WORLD_SIZE": "2"}) == Placement(1, 2, 1, 2)  # all ranks local


def test_each_rank_gets_its_own_engine_seed_and_a_one_process_run_keeps_the_configured_one():
    assert engine_seed(7, Placement()) == 7
    seeds = [engine_seed(7, Placement(r, 8)) for r in range(8)]
    assert len(set(seeds)) == 8 and all(0 <= s < 2**31 for s in seeds)
    assert seeds == [engine_seed(7, Placement(r, 8)) for r in range(8)]   # the same run draws the same
    assert engine_seed(8, Placement(0, 8)) != seeds[0]


def test_a_configured_sync_dir_gets_one_subdirectory_per_rank(tmp_path):
    assert rank_sync_dir(tmp_path, Placement()) == tmp_path
    assert rank_sync_dir(tmp_path, Placement(1, 2)) == tmp_path / "rank1"


@pytest.mark.parametrize("cpus, world, shares", [
    ([0, 1], 2, [[0], [1]]),
    (range(16), 2, [list(range(8)), list(range(8, 16))]),
    ([0, 1, 2], 2, [[0, 1], [2]]),
    ([4, 6, 5, 7, 8], 3, [[4, 5], [6, 7], [8]]),
    ([0], 2, [[0], [0]]),                       # fewer CPUs than ranks: shared
])
def test_local_ranks_split_the_cpus(cpus, world, shares):
    assert [cpu_share(list(cpus), r, world) for r in range(world)] == shares


def test_the_engine_starts_without_the_launchers_variables_on_its_share_of_the_cpus():
    env = {**TORCHRUN, "OMP_NUM_THREADS": "1"}
    changes = engine_environment(Placement.from_env(env), CPU, on_cpu=True, env=env)
    assert {k for k, v in changes.items() if v is None} == set(TORCHRUN) and set(TORCHRUN) <= set(LAUNCHER_VARIABLES)
    assert changes[CPU_BIND] == ",".join(map(str, cpu_share(sorted(os.sched_getaffinity(0)), 1, 2)))
    assert "OMP_NUM_THREADS" not in changes
    # a binding the user chose is kept; one local process binds all of its CPUs (vLLM's "auto"
    # would leave one to its scheduler: half of a 2-core machine); no binding off the CPU build
    allowed = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    assert CPU_BIND not in engine_environment(Placement(1, 2, 1, 2), CPU, True, {CPU_BIND: "0-3"})
    assert CPU_BIND not in engine_environment(Placement(0, 1, 0, 1), CPU, True, {CPU_BIND: "auto"})
    assert engine_environment(Placement(1, 2, 0, 1), CPU, True, {}) == {CPU_BIND: allowed}
    assert engine_environment(Placement(), CPU, True, {}) == {CPU_BIND: allowed}
    assert CPU_BIND not in engine_environment(Placement(1, 2, 1, 2), CPU, False, {})
    # `torchrun --nproc_per_node 1` sets the variables too: they go in a one-process run as well
    one = {"RANK": "0", "WORLD_SIZE": "1", "TORCHELASTIC_USE_AGENT_STORE": "True"}
    assert engine_environment(Placement.from_env(one), CPU, True, one) == {**dict.fromkeys(one), CPU_BIND: allowed}


def test_on_cuda_the_engine_sees_only_the_ranks_gpu():
    env = {"CUDA_VISIBLE_DEVICES": "4,5,6"}
    changes = engine_environment(Placement(1, 2, 1, 2), torch.device("cuda", 1), on_cpu=False, env=env)
    assert changes == {"CUDA_VISIBLE_DEVICES": "5"}


def test_the_environment_is_put_back_after_the_start(monkeypatch):
    for name, value in TORCHRUN.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(CPU_BIND, raising=False)
    before = dict(os.environ)
    with launch_environment(Placement.from_env(), CPU, on_cpu=True):
        assert not set(TORCHRUN) & set(os.environ) and CPU_BIND in os.environ
    assert dict(os.environ) == before
    with pytest.raises(RuntimeError), launch_environment(Placement.from_env(), CPU, on_cpu=True):
        raise RuntimeError("the engine failed to start")
    assert dict(os.environ) == before
