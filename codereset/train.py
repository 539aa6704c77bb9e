"""Command line of training: `python -m codereset.train +agent=srpo [overrides]` (Hydra).

The defaults (conf/train.yaml) train SmolLM2-135M-Instruct on the `basic` code suite with the
strongest available sandbox and the Hugging Face backend, sized for a 2-core CPU. There is no
default agent: `+agent=grpo|rrpo|srpo|caro` picks one. Sweeps: `-m +agent=grpo,srpo seed=0,1,2`
writes one run directory per job under Hydra's sweep directory, named by the job's overrides
without the run-control ones (e.g. `+agent=srpo,seed=1`), so re-running a sweep with more
`trainer.steps` and `trainer.resume=true` continues each job in its folder; a sweep into folders
that hold runs without trainer.resume=true is refused in one line.

Useful overrides: `model=tiny` (fast, random weights), `trainer.steps=N`,
`trainer.output_dir=DIR` (run directory), `trainer.resume=true` (continue DIR's run),
`trainer.resume=RUN_DIR` (continue a run, or every job of a sweep folder, from its saved config
alone: `codereset.run.resume_cli`),
`env=math_arith`, `buffer.split=2x4`, `backend=vllm`, `model.name=<HF id or path>`.
Exit status: 0 finished, 1 failed, 130 interrupted (checkpoint saved), 2 bad configuration
(one `error:` line saying what to change, printed before Hydra creates a directory or a model
loads: `codereset.run.preflight`). A resume may change only the run-control keys of
`codereset.run.resume.RESUME_MAY_CHANGE` (e.g. more trainer.steps).

Data parallel on several GPUs (or CPU processes): `accelerate launch --num_processes N -m
codereset.train +agent=srpo ...` or `torchrun --nproc_per_node N -m codereset.train ...`
(codereset.run.distributed); prompts_per_step must be a multiple of N. With backend=vllm every
rank starts its own colocated engine (codereset.generation.vllm_placement).
"""

from __future__ import annotations

import logging
import os
import sys

# Before torch loads OpenMP: threads that spin-wait between ops slow torch down 4-10x when other
# processes share the cores (measured on the 2-core machine); waiting passively costs little
# when the machine is idle. An explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from codereset.run import distributed
from codereset.config import conf_dir, register_configs
from codereset.run.preflight import ConfigError, check_agent, check_train_config, preflight

log = logging.getLogger("codereset.train")
EXIT_CODES = {"finished": 0, "failed": 1, "interrupted": 130}


def _run_dir(configured: str | None, default: str) -> str:
    """Hydra resolver: the configured output directory, else Hydra's default run directory."""
    return default if configured in (None, "", "None", "null") else configured


def register() -> None:
    """Register the config schemas and the `run_dir` resolver used by conf/*.yaml."""
    OmegaConf.register_new_resolver("run_dir", _run_dir, replace=True)
    register_configs()


def run_directory(cfg: DictConfig) -> str:
    """trainer.output_dir, else the job's Hydra output directory (one per job in a sweep)."""
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN and cfg.trainer.output_dir:
        raise ConfigError("trainer.output_dir would be shared by every job of the sweep; "
                          "set hydra.sweep.dir=DIR instead (each job gets a subdirectory)")
    return cfg.trainer.output_dir or hc.runtime.output_dir


def train(cfg: DictConfig) -> str:
    """Build and run a Trainer from a composed config; returns the final run state."""
    from codereset.run.trainer import Trainer

    check_train_config(cfg)
    info = distributed.from_env()
    if info.enabled and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise ConfigError("a sweep (-m) cannot run under a multi-process launcher; launch one run "
                          "per job, or sweep in one process")
    distributed.init(info)
    try:
        run_dir = distributed.broadcast(run_directory(cfg), info)  # rank 0's directory for all
        config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
        trainer = Trainer(OmegaConf.to_object(cfg), run_dir, config_yaml, info)
        try:
            trainer.setup()
        except ValueError as err:  # bad names/values in the config; the message says what to change
            raise ConfigError(str(err)) from err
        return trainer.train()
    finally:
        distributed.shutdown(info)


def rank_overrides(info: distributed.DistInfo) -> list[str]:
    """Hydra overrides for ranks other than 0 of a multi-process launch: their Hydra output
    (config copy, log file) goes to a temporary directory, not beside rank 0's run."""
    if info.is_main:
        return []
    import tempfile

    return [f"hydra.run.dir={tempfile.mkdtemp(prefix=f'codereset-rank{info.rank}-')}",
            "hydra.output_subdir=null"]


@hydra.main(config_path=conf_dir(), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        state = train(cfg)
    except ConfigError as err:  # one line and exit 2, in a sweep too (naming the job; no traceback)
        job = f"sweep job {HydraConfig.get().job.override_dirname}: " if multirun else ""
        print(f"error: {job}{err}", file=sys.stderr)
        sys.exit(2)
    if not multirun and state != "finished":
        sys.exit(EXIT_CODES[state])


if __name__ == "__main__":
    register()
    from codereset.run.preflight import _fail, check_sweep_config
    from codereset.run.resume_cli import resume_argv

    argv = resume_argv(sys.argv[1:], check_train_config, _fail)  # trainer.resume=RUN_DIR
    if argv == sys.argv[1:]:
        preflight(argv, "train", check_train_config)
        check_sweep_config(argv)
    sys.argv[1:] = argv + rank_overrides(distributed.from_env())
    main()
