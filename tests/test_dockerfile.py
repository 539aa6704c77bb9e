"""The root Dockerfile (issue 18 item 6): the commands it documents are the README's, a wrong
variant is refused, and (slow, needs a docker engine) the offline variant builds here from the
host's Python and, in the container, trains one step, loads the prepared default model offline
and runs part of the test suite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"
# Test-only tags, removed afterwards (the documented ones are codereset-host-python and codereset).
BASE_TAG = "codereset-host-python:pytest"
IMAGE_TAG = "codereset:pytest"


def documented_commands(text: str) -> list[str]:
    """The shell commands in a text's `docker ...` / `bash scripts/...` lines, trailing comments
    and the comment markers of a Dockerfile header stripped."""
    commands = []
    for line in text.splitlines():
        line = re.sub(r"^#\s*", "", line.strip())
        if re.match(r"(docker (build|run)|bash scripts/)", line):
            commands.append(re.sub(r"\s+#.*$", "", line).strip())
    return commands


def readme_docker_block() -> str:
    """The README's fenced block of Docker commands (in "Install without the checkout")."""
    section = README.read_text().split("## Install without the checkout", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    docker = [b for b in blocks if "docker build" in b]
    assert len(docker) == 1, "the README's Docker section needs one ```bash block of its commands"
    return docker[0]


def test_the_readme_documents_the_dockerfiles_commands():
    header = DOCKERFILE.read_text().split("\nARG ", 1)[0]
    assert documented_commands(header) == documented_commands(readme_docker_block())
    assert len(documented_commands(header)) >= 5


def test_the_documented_commands_name_what_exists():
    header = DOCKERFILE.read_text().split("\nARG ", 1)[0]
    for command in documented_commands(header):
        for script in re.findall(r"scripts/\S+", command):
            assert (ROOT / script).is_file(), command
        for module in re.findall(r"codereset \b(codereset\.[\w.]+)", command):
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file() \
                or (ROOT / module.replace(".", "/") / "__main__.py").is_file(), command
        for value in re.findall(r"DEPS=(\w+)", command):
            assert f"{value})" in DOCKERFILE.read_text(), command


def _docker_ready() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                          text=True, timeout=60)
    return None if info.returncode == 0 else f"no docker engine: {info.stderr.strip()[:200]}"


def _docker(*args: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kw)


def _remove_image_tree(image_id: str) -> None:
    """Remove an image and every image built on it (the build's intermediate images too),
    children first."""
    listed = _docker("images", "-a", "-q", "--no-trunc", timeout=120).stdout.split()
    parents = {}
    if listed:
        inspect = _docker("image", "inspect", "-f", "{{.Id}} {{.Parent}}", *listed, timeout=120)
        parents = dict((line.split() + [""])[:2] for line in inspect.stdout.splitlines())
    def depth(i: str) -> int | None:
        """How many builds above ``image_id`` the image lies; None when not built on it."""
        if i == image_id:
            return 0
        above = depth(parents[i]) if parents.get(i) else None
        return None if above is None else above + 1
    tree = sorted((i for i in parents if depth(i) is not None), key=depth, reverse=True)
    for i in tree or [image_id]:
        _docker("rmi", "-f", i, timeout=300)


@pytest.fixture(scope="module")
def image():
    reason = _docker_ready()
    if reason is not None:
        pytest.skip(reason)
    base_id = None
    try:
        base = subprocess.run(["bash", "scripts/docker_host_base.sh"], cwd=ROOT, capture_output=True,
                              text=True, timeout=1200, env={**os.environ, "TAG": BASE_TAG})
        assert base.returncode == 0, base.stderr[-3000:]
        base_id = _docker("image", "inspect", "-f", "{{.Id}}", BASE_TAG).stdout.strip()
        build = _docker("build", "--force-rm", "--build-arg", f"BASE={BASE_TAG}", "--build-arg", "DEPS=host",
                        "-t", IMAGE_TAG, str(ROOT), timeout=1800)
        assert build.returncode == 0, build.stderr[-3000:]
        yield IMAGE_TAG
    finally:
        _docker("rmi", "-f", IMAGE_TAG, BASE_TAG, timeout=300)
        if base_id:
            _remove_image_tree(base_id)


@pytest.mark.slow
@pytest.mark.docker
def test_the_offline_image_trains_one_step(image, tmp_path):
    tmp_path.chmod(0o777)
    run = _docker("run", "--rm", "-v", f"{tmp_path}:/work/outputs", image, "codereset.train",
                  "+agent=grpo", "model=tiny", "trainer.steps=1", "trainer.output_dir=/work/outputs/run",
                  "validation.max_tasks=2", "trainer.progress=false")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    assert "run finished at step 1" in run.stdout + run.stderr


SANDBOX_IN_CONTAINER = """
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s")
from sandboxes import AssertTests, make_sandbox
with make_sandbox("auto", workers=1) as sb:
    print("verdict", sb.run("def f():\\n    return 7\\n", AssertTests("def check(c):\\n    assert c() == 7\\n", "f")).status)
"""


@pytest.mark.slow
@pytest.mark.docker
def test_in_the_container_auto_falls_back_to_local_and_says_why(image):
    # no engine inside, bwrap and local's namespaces refused (no CAP_SYS_ADMIN): local, degraded
    run = _docker("run", "--rm", "--entrypoint", "python", image, "-c", SANDBOX_IN_CONTAINER)
    log = run.stdout + run.stderr
    assert run.returncode == 0 and "verdict ok" in run.stdout, log[-3000:]
    assert "auto skips 'docker'" in log and "auto skips 'bwrap'" in log, log[-3000:]
    assert re.search(r"auto picked 'local' backend.*namespaces: unshare refused", log), log[-3000:]


@pytest.mark.slow
@pytest.mark.docker
def test_the_default_model_was_prepared_at_build_time_and_loads_offline(image):
    run = _docker("run", "--rm", "--network", "none", image, "codereset.models", "prepare")
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"ready: \S+ at /root/\.cache/codereset/models/", run.stdout), run.stdout


@pytest.mark.slow
@pytest.mark.docker
def test_part_of_the_test_suite_passes_in_the_image(image):
    run = _docker("run", "--rm", "-w", "/opt/codereset", image, "pytest", "-q", "-x",
                  "-p", "no:cacheprovider", "tests/envs/test_thought_rules.py",
                  "tests/envs/test_code_reward.py")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert re.search(r"\d+ passed", run.stdout), run.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.docker
def test_an_unknown_variant_is_refused_with_the_valid_ones(image):
    build = _docker("build", "--force-rm", "--build-arg", f"BASE={BASE_TAG}", "--build-arg", "DEPS=hots",
                    "-t", "codereset:pytest-refused", str(ROOT), timeout=600)
    assert build.returncode != 0
    assert "--build-arg DEPS=hots: use DEPS=pypi (the default) or DEPS=host" in build.stdout + build.stderr
