"""Continuing runs from the command line: `trainer.resume=RUN_DIR`, and sweeps into used folders.

`python -m codereset.train trainer.resume=RUN_DIR [run-control overrides]` continues a run from
its folder alone: the run's saved config (RUN_DIR/config.yaml, which the trainer writes resolved;
else RUN_DIR/.hydra/config.yaml) IS the config. The command line may add only run-control keys
(`codereset.run.resume.RESUME_MAY_CHANGE`: more trainer.steps, validation.*, logging.*, ...);
any other key is refused in one `error:` line, exit 2. RUN_DIR's `.hydra/` is left as the run's
first start wrote it (the resume sets hydra.output_subdir=null); train.log is appended to.
Hydra's own way, `--config-path RUN_DIR/.hydra --config-name config`, is read as
`trainer.resume=RUN_DIR`.

A sweep folder (no config.yaml of its own, job folders that have one) continues every job in
its own folder, one after the other (one `python -m codereset.train trainer.resume=JOB` each),
after every job passed the checks; the exit status is the first non-zero one.

A sweep (`-m`) into an existing hydra.sweep.dir: job folders are named by the job's overrides
without the run-control keys (conf/train.yaml's hydra.job.config.override_dirname.exclude_keys,
`SWEEP_DIR_EXCLUDES`), so a re-run with more trainer.steps and trainer.resume=true lands in the
same folders. `check_sweep` expands the sweep as Hydra's basic sweeper will, refuses a shared
trainer.output_dir and checks each job whose folder exists (a new run over a run, a resume that changes the method, ...) before Hydra
writes anything: a refusal is one `error:` line naming the job, exit 2.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import yaml
from omegaconf import DictConfig

from codereset.run.resume import RESUME_MAY_CHANGE, may_change

FALSE_OR_TRUE = {"true", "false", "yes", "no", "on", "off", "1", "0", "null", "none", ""}
MULTIRUN_FLAGS = ("-m", "--multirun")
SHORT_FLAGS = {"-cp": "--config-path", "-cn": "--config-name"}


class ResumeError(ValueError):
    """A resume from a run directory that cannot go ahead; the message says what to do."""


def saved_config_file(run_dir: Path) -> Path | None:
    """The config a run was started with: config.yaml (resolved), else .hydra/config.yaml."""
    for path in (run_dir / "config.yaml", run_dir / ".hydra" / "config.yaml"):
        if path.is_file():
            return path
    return None


def saved_config(run_dir: str | Path) -> dict:
    """The run's saved config as a dict; ResumeError when `run_dir` holds none."""
    run_dir = Path(run_dir)
    path = saved_config_file(run_dir)
    if path is None:
        raise ResumeError(f"{run_dir} holds no run: no config.yaml or .hydra/config.yaml (give the "
                          "folder a run wrote, e.g. trainer.output_dir's or a sweep job's)")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(cfg, dict):
        raise ResumeError(f"{path} is not a config (a YAML mapping); is this a run's folder?")
    return cfg


def sweep_jobs(folder: Path) -> list[Path]:
    """The job folders of a sweep folder (subfolders holding a saved config), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and saved_config_file(p) is not None)


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _hydra_way(argv: list[str]) -> list[str]:
    """`--config-path RUN/.hydra [--config-name config] ...` -> `trainer.resume=RUN ...`."""
    args, path, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, value = arg.partition("=")
        flag = SHORT_FLAGS.get(flag, flag)
        if flag in ("--config-path", "--config-name"):
            if not eq:
                i += 1
                value = argv[i] if i < len(argv) else ""
            if flag == "--config-path":
                path = value
        else:
            args.append(arg)
        i += 1
    if path is None or Path(path).name != ".hydra" or saved_config_file(Path(path).parent) is None:
        return argv
    return [a for a in args if _key(a) != "trainer.resume"] + [f"trainer.resume={Path(path).parent}"]


def resume_target(argv: list[str]) -> tuple[Path | None, list[str]]:
    """(RUN_DIR, the other arguments) when argv resumes from a path, else (None, argv)."""
    argv = _hydra_way(argv)
    target, rest = None, []
    for arg in argv:
        if _key(arg) == "trainer.resume" and "=" in arg:
            value = arg.partition("=")[2].strip("'\"")
            if value.lower() not in FALSE_OR_TRUE:
                target = Path(value).expanduser()
                continue
        rest.append(arg)
    return target, rest


def check_overrides(run_dir: Path, overrides: list[str]) -> None:
    """Only run-control keys may be given beside trainer.resume=RUN_DIR."""
    flags = [a for a in overrides if a.startswith("-")]
    if flags:
        raise ResumeError(f"trainer.resume={run_dir} takes no Hydra flags ({' '.join(flags)}): a run "
                          "folder resumes its own run and a sweep folder every job in it, without -m")
    moved = [a for a in overrides if _key(a) in ("trainer.output_dir", "trainer.resume")]
    if moved:
        raise ResumeError(f"trainer.resume={run_dir} continues the run in that folder; drop {', '.join(moved)} "
                          "(to continue it elsewhere, copy the folder first)")
    bad = [a for a in overrides if "=" not in a or not (may_change(_key(a)) or may_change(_key(a) + "."))]
    if bad:
        raise ResumeError(f"trainer.resume={run_dir} continues the run with its saved config; "
                          f"{', '.join(bad)} would change it. Only run-control keys may be given "
                          f"({', '.join(RESUME_MAY_CHANGE)}); for another method start a new run")


def run_config_dir(run_dir: Path) -> Path:
    """A temporary Hydra config folder whose `run.yaml` is the run's saved config on the schema,
    set to resume in `run_dir` (removed when this process exits)."""
    cfg = saved_config(run_dir)
    cfg.setdefault("trainer", {}).update(output_dir=str(run_dir.resolve()), resume=True)
    from codereset.config import conf_dir

    cfg["hydra"] = {"run": {"dir": str(run_dir.resolve())}, "output_subdir": None,
                    "job": {"chdir": False}, "searchpath": [f"file://{conf_dir()}"]}
    tmp = Path(tempfile.mkdtemp(prefix="codereset-resume-"))
    atexit.register(shutil.rmtree, tmp, True)
    text = "defaults:\n  - train_schema\n  - _self_\n\n" + yaml.safe_dump(cfg, sort_keys=False)
    (tmp / "run.yaml").write_text(text, encoding="utf-8")
    return tmp


def _group_overrides(overrides: list[str]) -> list[str]:
    """`backend=vllm` (a config group, not in run.yaml's defaults) -> `+backend=vllm`."""
    return [f"+{a}" if _key(a) == "backend" and not a.startswith("+") else a for a in overrides]


def compose_resume(config_dir: Path, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="run", overrides=overrides)


def resume_argv(argv: list[str], check: Callable[[DictConfig], None], fail: Callable[[str], None]) -> list[str]:
    """argv for Hydra: unchanged unless it resumes from a path. A run folder: its checks are run
    (`check`; `fail` prints one line and exits 2) and Hydra is pointed at its saved config. A sweep
    folder: every job is checked, then run in its own process, and this process exits."""
    target, overrides = resume_target(argv)
    if target is None:
        return argv
    try:
        check_overrides(target, overrides)
        if not target.is_dir():
            raise ResumeError(f"trainer.resume={target}: no such folder (give a run's folder, a sweep "
                              "folder, or trainer.resume=true with trainer.output_dir=RUN_DIR)")
        overrides = _group_overrides(overrides)
        if saved_config_file(target) is None:
            jobs = sweep_jobs(target)
            if not jobs:
                saved_config(target)  # raises: holds no run
            for job in jobs:
                try:
                    check(compose_resume(run_config_dir(job), overrides))
                except ValueError as err:
                    raise ResumeError(f"sweep job {job.name}: {err}") from None
            sys.exit(_run_jobs(jobs, overrides))
        config_dir = run_config_dir(target)
        check(compose_resume(config_dir, overrides))
    except ValueError as err:
        fail(str(err))
    return ["--config-path", str(config_dir), "--config-name", "run", *overrides]


def _run_jobs(jobs: list[Path], overrides: list[str]) -> int:
    """Resume each job folder in its own process, in order; the first non-zero exit status
    (a Ctrl-C, 130, stops the rest)."""
    status = 0
    for job in jobs:
        print(f"resuming sweep job {job}", file=sys.stderr, flush=True)
        code = subprocess.run([sys.executable, "-m", "codereset.train", f"trainer.resume={job}",
                               *overrides]).returncode
        status = status or code
        if code == 130:
            break
    return status


# -- sweeps (-m) into a folder that holds runs -------------------------------------------------
def sweep_job_configs(argv: list[str], config_dir: str) -> list[tuple[list[str], DictConfig]]:
    """Each job of a `-m` command line as (its overrides, its composed config with the hydra node),
    expanded as Hydra's basic sweeper does."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = [a for a in argv if a not in MULTIRUN_FLAGS]
    batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)
    jobs = []
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        for overrides in batches[0]:
            jobs.append((overrides, compose(config_name="train", overrides=overrides, return_hydra_config=True)))
    return jobs


def check_sweep(argv: list[str], config_dir: str, check_run_dir: Callable[[DictConfig], None]) -> None:
    """For a plain `-m` sweep (no other Hydra flag): each job whose folder under hydra.sweep.dir
    exists is checked as a run in that folder (`check_run_dir` on the job's config with
    trainer.output_dir set to the folder); a refusal raises ValueError naming the job."""
    from omegaconf import OmegaConf, open_dict

    if not any(a in MULTIRUN_FLAGS for a in argv) or any(a.startswith("-") and a not in MULTIRUN_FLAGS for a in argv):
        return
    for overrides, cfg in sweep_job_configs(argv, config_dir):
        if cfg.trainer.output_dir:
            raise ValueError(f"trainer.output_dir={cfg.trainer.output_dir} would be shared by every job of the "
                             "sweep; set hydra.sweep.dir=DIR instead (each job gets a folder of its own)")
        folder = Path(cfg.hydra.sweep.dir) / cfg.hydra.sweep.subdir
        if not folder.exists():
            continue
        OmegaConf.set_readonly(cfg, False)
        with open_dict(cfg):
            del cfg["hydra"]
            cfg.trainer.output_dir = str(folder)
        try:
            check_run_dir(cfg)
        except ValueError as err:
            raise ValueError(f"sweep job {folder} ({' '.join(overrides)}): {err} (for a sweep: add "
                             "trainer.resume=true to continue its jobs, or pick a new hydra.sweep.dir)") from None
