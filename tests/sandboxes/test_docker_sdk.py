"""The docker backend through the Docker SDK (issue 18 item 12): an unreachable engine gives a
clear error naming the fix, ``auto`` falls back and says so, and containers carry their limits as
the engine reports them."""

from __future__ import annotations

import logging
import os

import pytest

from sandboxes import CallTests, Limits, make_sandbox
from sandboxes.backends import make_backend
from sandboxes.backends.docker import SOCKDIR_PREFIX, EngineUnreachable, connect
from sandboxes.uids import UidLease

BAD_URL = "unix:///nonexistent/codereset-docker.sock"
ADD = CallTests("add", [((1, 2), 3)])
GOOD = "def add(a, b):\n    return a + b\n"


def test_unreachable_engine_says_where_and_how_to_fix():
    reason = make_backend("docker", {"base_url": BAD_URL}).unavailable()
    assert reason is not None
    assert BAD_URL in reason and "start it" in reason and "DOCKER_HOST" in reason
    with pytest.raises(EngineUnreachable, match="not reachable at unix:///nonexistent"):
        connect(BAD_URL)


def test_make_sandbox_on_an_unreachable_engine_fails_before_starting_anything():
    with pytest.raises(RuntimeError, match="unavailable: docker engine not reachable"):
        make_sandbox("docker", base_url=BAD_URL)


def test_docker_host_from_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens on the discard port
    reason = make_backend("docker").unavailable()
    assert reason is not None and "tcp://127.0.0.1:9" in reason


def test_auto_falls_back_and_says_why(monkeypatch, caplog):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    with caplog.at_level(logging.INFO, logger="sandboxes"):
        with make_sandbox("auto", workers=1) as sb:
            assert sb.name in ("bwrap", "local")
            assert sb.run(GOOD, ADD).passed
    skipped = [r.getMessage() for r in caplog.records if "auto skips 'docker'" in r.getMessage()]
    assert skipped and "tcp://127.0.0.1:9" in skipped[0]
    assert any(f"auto picked {sb.name!r}" in r.getMessage() for r in caplog.records)


@pytest.fixture
def docker_backend():
    backend = make_backend("docker")
    reason = backend.unavailable()
    if reason is not None:
        pytest.skip(f"docker backend unavailable here: {reason}")
    backend.prepare()
    return backend


@pytest.mark.docker
def test_container_limits_as_the_engine_reports_them(docker_backend):
    limits = Limits(memory_mb=300, max_processes=12)
    lease = UidLease()
    launched = docker_backend.launch(lease.uid, limits)
    try:
        name = [c for c in docker_backend.client.containers.list()
                if c.name.startswith(f"codereset-sandbox-{os.getppid()}-{lease.uid}-")]
        assert len(name) == 1
        attrs = docker_backend.client.api.inspect_container(name[0].id)
        host, config = attrs["HostConfig"], attrs["Config"]
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["PidsLimit"] == limits.max_processes + 8
        memory = (limits.memory_mb + docker_backend.config.memory_headroom_mb) << 20
        assert host["Memory"] == memory and host["MemorySwap"] == memory
        assert host["NanoCpus"] == 10**9 and host["AutoRemove"] is True
        # root with three capabilities only until the runner has mounted its /proc (hidepid) and
        # dropped to the lease's uid (test_redteam_third checks what a candidate has)
        assert config["User"] == "0:0"
        assert sorted(host["CapAdd"]) == ["SETGID", "SETUID", "SYS_ADMIN"]
        assert {"/tmp", "/dev/shm", "/sys/fs/cgroup"} <= set(host["Tmpfs"])
        assert f'"uid": {lease.uid}' in " ".join(config["Cmd"])
        # the socket directory is gone from the host once the runner connected
        mine = f"{SOCKDIR_PREFIX}{os.getpid()}-"
        assert not [d for d in os.listdir("/tmp") if d.startswith(mine)]
    finally:
        launched.kill()
        lease.release()
    assert not [c for c in docker_backend.client.containers.list(all=True)
                if c.name.startswith(f"codereset-sandbox-{os.getppid()}-{lease.uid}-")]


@pytest.mark.docker
def test_offline_image_is_imported_once_and_reused(docker_backend):
    from sandboxes.dockerimage import ensure_offline_image
    from sandboxes.layout import host_layout

    tag = ensure_offline_image(docker_backend.client, host_layout())
    image = docker_backend.client.images.get(tag)
    assert ensure_offline_image(docker_backend.client, host_layout()) == tag
    assert docker_backend.client.images.get(tag).id == image.id


@pytest.mark.docker
def test_a_container_that_cannot_start_is_a_clear_error(docker_backend):
    broken = make_backend("docker", {"image": "codereset-no-such-image:never"})
    lease = UidLease()
    try:
        with pytest.raises(RuntimeError, match="docker could not start the sandbox container"):
            broken.launch(lease.uid, Limits())
    finally:
        lease.release()
    assert not [d for d in os.listdir("/tmp") if d.startswith(f"{SOCKDIR_PREFIX}{os.getpid()}-")]
