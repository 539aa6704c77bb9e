"""`pip install .` (a wheel, not editable) gives a working `python -m codereset.train` from any
directory (issue 18 item 5): the wheel ships conf/*.yaml inside the package, and a fresh virtualenv
with the wheel installed trains one step from a directory outside the checkout.

The virtualenv sees the host's site-packages through a plain path line in a .pth file (torch and
friends are not reinstalled), which does NOT run the host's .pth hooks, so the editable install of
the checkout is invisible there: the test checks that `codereset` is imported from the venv."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    had_build = (ROOT / "build").exists()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(out), str(ROOT)], check=True, cwd=out, timeout=300)
    if not had_build:  # setuptools builds in the checkout's build/: leave the tree as it was
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    (path,) = out.glob("codereset-*.whl")
    return path


def test_the_wheel_ships_every_config_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    conf = sorted(str(p.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml"))
    assert conf and all(f"codereset/conf/{c}" in names for c in conf)
    assert "codereset/run/preflight.py" in names and "sandboxes/Dockerfile" in names


@pytest.mark.slow
def test_a_fresh_venv_with_the_wheel_trains_from_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "host_site.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([py, "-c", "import codereset, codereset.config as c; print(codereset.__file__); "
                            "print(c.conf_dir())"], cwd=work, capture_output=True, text=True, check=True)
    module, conf = where.stdout.split()
    assert module.startswith(str(venv)) and conf.startswith(str(venv)), where.stdout
    proc = subprocess.run([py, "-m", "codereset.train", "+agent=grpo", "model=tiny", "trainer.steps=1",
                           "trainer.output_dir=run", "validation.max_tasks=2", "trainer.progress=false"],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / "run" / "metrics.jsonl").is_file() and (work / "run" / "checkpoints" / "latest").is_file()
    assert not (ROOT / "run").exists()
