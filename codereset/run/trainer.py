"""The training loop: build each step's buffer, update the policy once, log, checkpoint.

One step (method.md): take `prompts_per_step` training prompts (`codereset.rollouts.task_sampler`), build their
buffers (`codereset.rollouts.buffer`: base group, seed search, the agent's resets, shared-prefix groups),
normalize advantages per group, apply ONE on-policy update (`codereset.learn.update`), hand the new
weights to the generation backend (`sync_weights`), and write the step's rows: metrics.jsonl,
samples.jsonl, TensorBoard (tags grouped train/, time/, eval/, reset/; the resolved config as text:
`codereset.run.console`), and (when due) greedy pass@1 on the validation split in eval.jsonl.
The console shows a start-up summary, then the progress bar with log lines above it.
Then a checkpoint (every `checkpoint_every` steps, atomically).

Departures from a textbook loop, on purpose:
- Rows are written before the checkpoint of their step. A run killed in between resumes from
  the previous checkpoint and `RunDir.truncate_after` drops the rows of the re-run step, so
  metrics.jsonl never loses or duplicates a step.
- Ctrl-C/SIGTERM (`codereset.run.interrupts`): the step in flight is abandoned unless its update has
  begun, in which case the step finishes; then a checkpoint is saved and the state is
  "interrupted". `trainer.resume=true` continues from there.
- A non-finite loss or gradient norm skips the update (logged as skipped_update); after
  `max_nonfinite_steps` skips in a row the run stops with state "failed".
- Data parallel (`accelerate launch` / `torchrun`, codereset.run.distributed): each rank builds the
  buffer of its shard of the step's prompts with its own random stream, reseeded every step from
  (seed, rank, step); the update sums gradients over ranks; rank 0 gathers the buffers, validates
  and writes the run directory alone. With one process nothing of this runs.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codereset.run import checkpoint as ckpt
from codereset.run import distributed
from codereset.agents import AgentContext, make_agent
from codereset.rollouts.buffer import BufferBuilder, StepBuffer
from codereset.config import TrainConfig, apply_torch_threads
from codereset.run.builders import (load_policy, load_tasks, make_generation_backend, make_rules, make_verifier,
                                   warn_if_same_tasks)
from codereset.rollouts.task_sampler import TaskSampler
from codereset.eval.eval_tasks import eval_rows, eval_sample_rows, evaluate_tasks
from codereset.run.interrupts import Interrupts
from codereset.run.metrics import localizer_warning, sample_rows, step_metrics
from codereset.run import console
from codereset.run.resume import check_run_dir
from codereset.rollouts.rollout import Roller
from codereset.run.rundir import RunDir
from codereset.run.timing import PhaseTimes
from codereset.learn.update import PolicyUpdater, assign_advantages, split_mini_batches

log = logging.getLogger("codereset.train")


class NonFiniteStop(RuntimeError):
    """Too many non-finite updates in a row."""


class Trainer:
    """One training run into `run_dir` with config `cfg` (a `TrainConfig`); `config_yaml` is the
    resolved config text written to config.yaml."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, config_yaml: str,
                 dist: distributed.DistInfo | None = None) -> None:
        self.cfg = cfg
        self.dist = dist or distributed.DistInfo()
        self.run = RunDir(run_dir)
        self.config_yaml = config_yaml
        self.interrupts = Interrupts()
        self.last_done = 0      # last step whose rows are written
        self.last_saved = -1    # last step with a checkpoint on disk
        self.nonfinite_streak = 0
        self._committing = False  # inside a step's update/rows/checkpoint section

    # -- setup -----------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self._check_run_dir()
        apply_torch_threads(cfg.torch_threads)
        if cfg.trainer.prompts_per_step % self.dist.world_size:
            raise ValueError(f"trainer.prompts_per_step={cfg.trainer.prompts_per_step} does not split evenly "
                             f"over {self.dist.world_size} processes; make it a multiple of the world size")
        _seed_all(distributed.step_seed(cfg.seed, self.dist.rank, 0) if self.dist.enabled else cfg.seed)
        self.rules = make_rules(cfg.env)
        self.train_tasks = load_tasks(cfg.env, cfg.env.train_split)
        validating = cfg.validation.every > 0 or cfg.validation.at_end or cfg.validation.at_start
        self.val_tasks = (load_tasks(cfg.env, cfg.env.val_split, cfg.validation.max_tasks)
                          if validating else [])
        warn_if_same_tasks(self.train_tasks, self.val_tasks, cfg.env.train_split, cfg.env.val_split)
        self.model, self.tokenizer = load_policy(cfg.model)
        distributed.broadcast_params_(self.model, self.dist)
        self.backend = make_generation_backend(cfg.backend, self.model, self.tokenizer)
        self.verifier = make_verifier(cfg.sandbox, self.rules, cfg.env.code_reward)
        self.agent_rng = random.Random(f"agent:{cfg.seed}")  # data parallel: reseeded every step
        self.agent = make_agent(cfg.agent.name, cfg.agent,
                                AgentContext(self.backend, self.rules, self.agent_rng))
        self.agent.check_tasks(self.train_tasks)
        self.roller = Roller(self.backend, self.rules, cfg.sampling.temperature, cfg.sampling.top_p,
                             fewshot=cfg.env.fewshot, mode=cfg.sampling.mode,
                             batching=cfg.sampling.batching)
        self.greedy = self.roller.with_sampling(0.0)
        self.builder = BufferBuilder(cfg.buffer, self.agent, self.roller, self.verifier)
        self.sampler = TaskSampler(self.train_tasks, cfg.trainer.prompts_per_step, cfg.seed)
        o = cfg.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay,
                                           betas=tuple(o.betas), eps=o.eps)
        self.updater = PolicyUpdater(self.model, self.optimizer, cfg.loss, cfg.trainer.micro_batch_size,
                                     o.grad_clip, self.tokenizer.pad_token_id, self.dist,
                                     forward=cfg.trainer.forward, sampling_temperature=cfg.sampling.temperature)
        split_mini_batches([[]] * (cfg.trainer.prompts_per_step // self.dist.world_size),
                           cfg.trainer.mini_batches)  # a bad trainer.mini_batches fails now, not at step 1
        self._open_run_dir()

    def _check_run_dir(self) -> None:
        """Refuse a new run over an existing one, and a resume that changes the method, asks for
        fewer steps than done or finds the run alive (`codereset.run.resume`; before loading anything)."""
        t = self.cfg.trainer
        self._resume_changes = check_run_dir(self.run.path, self.config_yaml, t.resume, t.steps)

    def _open_run_dir(self) -> None:
        t = self.cfg.trainer
        start = 0
        found = ckpt.latest_checkpoint(self.run.checkpoints) if t.resume else None
        if found is not None:
            start = self._restore(found)
            log.info("resuming from %s (step %d)", found, start)
        elif t.resume:
            log.warning("trainer.resume=true but %s has no checkpoint: starting a new run there from step 0",
                        self.run.path)
        self.last_done = self.last_saved = start
        self.tb = self.wandb = None
        if not self.dist.is_main:  # rank 0 alone writes the run directory
            return
        dropped = self.run.truncate_after(start)
        if any(dropped.values()):
            log.info("dropped rows of steps after %d (to be re-run): %s", start, dropped)
        if t.resume:
            self._warn_config_changes()
        self.run.write_config(self.config_yaml)
        self.tb = self._tensorboard(start)
        self.wandb = self._wandb()

    def _warn_config_changes(self) -> None:
        """On resume, name the run-control settings that differ from the run's config.yaml (the
        method's cannot: `_check_run_dir` refused them)."""
        if self._resume_changes:
            log.info("resuming with run-control changes: %s", "; ".join(self._resume_changes))

    def _restore(self, found: Path) -> int:
        ckpt.load_weights(self.model, found)
        state = ckpt.load_trainer_state(found)
        self.optimizer.load_state_dict(state["optimizer"])
        ckpt.set_rng_state(state["rng"])
        self.agent_rng.setstate(state["agent_rng"])
        self.nonfinite_streak = int(state["nonfinite_streak"])
        self.backend.sync_weights(self.model)
        return int(state["step"])

    def _tensorboard(self, start: int) -> Any:
        if not self.cfg.logging.tensorboard:
            return None
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(self.run.tb), purge_step=start + 1 if start else None)
        writer.add_text("config", console.config_text(self.config_yaml), start)  # the resolved config
        return writer

    def _wandb(self) -> Any:
        if not self.cfg.logging.wandb:
            return None
        try:
            import wandb
        except ImportError:
            raise ImportError("logging.wandb=true needs the wandb package (pip install wandb)") from None
        import yaml

        return wandb.init(project=self.cfg.logging.wandb_project, dir=str(self.run.path),
                          name=self.run.path.name, resume="allow", config=yaml.safe_load(self.config_yaml))

    # -- the loop --------------------------------------------------------------------------
    def train(self) -> str:
        """Run the remaining steps; returns the final state ("finished", "interrupted", "failed")."""
        from tqdm.auto import tqdm

        total = self.cfg.trainer.steps
        if self.dist.is_main:
            self.run.set_status("running", self.last_done, total, **self._dist_info())
        if self.dist.is_main:
            log.info("starting:\n  %s", "\n  ".join(console.startup_summary(self)))
        self.interrupts.install()
        bar = tqdm(total=total, initial=self.last_done, desc=f"{self.cfg.agent.name}", unit="step",
                   disable=not (self.cfg.trainer.progress and self.dist.is_main), dynamic_ncols=True)
        state = "finished"
        try:
            with console.log_above_bar():  # log lines above the bar, not glued onto it
                self._validate_start()
                for step in range(self.last_done + 1, total + 1):
                    row = self.train_step(step)
                    bar.update(1)
                    if "pass_rate" in row:
                        bar.set_postfix(_postfix(row), refresh=True)
        except KeyboardInterrupt:
            state = "interrupted"
        except NonFiniteStop as err:
            log.error("%s", err)
            state = "failed"
        except BaseException:
            state = "failed"
            raise
        finally:
            bar.close()
            self.interrupts.uninstall()
            self._finish(state)
        return state

    def _finish(self, state: str) -> None:
        broken = self.interrupts.broken_section or self._committing
        if self.dist.is_main:
            if not broken and self.last_saved < self.last_done:
                self._save(self.last_done)
            extra = self._dist_info()
            if broken:
                extra["note"] = "stopped during a step's update/rows/checkpoint; resume re-runs that step"
            self.run.set_status(state, self.last_saved if broken else self.last_done,
                                self.cfg.trainer.steps, **extra)
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
        self.verifier.close()
        self.backend.close()
        if self.dist.is_main:
            log.info("run %s at step %d: %s", state, self.last_done, self.run.path)

    def _dist_info(self) -> dict:
        return {"world_size": self.dist.world_size} if self.dist.enabled else {}

    def train_step(self, step: int) -> dict:
        """One full step: buffer, update, rows, checkpoint. Returns the metrics row."""
        started = time.perf_counter()
        if self.dist.enabled:
            _seed_all(distributed.step_seed(self.cfg.seed, self.dist.rank, step))
            self.agent_rng.seed(distributed.step_seed(self.cfg.seed, self.dist.rank, -step))
        tasks = distributed.shard(self.sampler.batch(step), self.dist)
        pair_seed = distributed.step_seed(self.cfg.seed, self.dist.rank, step) if self.cfg.trainer.paired else None
        buf = self.builder.build(tasks, seed=pair_seed)
        times = buf.times
        assign_advantages(buf.groups, self.cfg.trainer.advantage)
        per_prompt = [[(r, a) for g in p.groups for r, a in zip(g.rollouts, g.advantages, strict=True)]
                      for p in buf.prompts]
        batches = [([r for r, _ in mb], [a for _, a in mb])
                   for mb in split_mini_batches(per_prompt, self.cfg.trainer.mini_batches)]
        with self.interrupts.protected():
            self._committing = True
            with times.phase("train"):
                self.backend.offload()  # frees the engine's GPU memory where it can (backend.vllm.sleep)
                result = self.updater.update(batches)  # trainer.mini_batches optimizer steps
                with times.phase("sync"):  # the in-place weight reload, measured per step (time_sync_s)
                    if not result.skipped:
                        self.backend.sync_weights(self.model)
            self.nonfinite_streak = self.nonfinite_streak + 1 if result.skipped else 0
            if self.dist.enabled:
                buf = distributed.merge_buffers(distributed.gather(buf))
                times = buf.times
            row = self._commit_rows(step, buf, result, times, started) if self.dist.is_main else None
            self.last_done = step
            self._committing = False
        if row is not None:
            log.info("step %d/%d: pass_rate %.3f, loss %s, %d tokens generated; %.0f s (generate %.0f, "
                     "verify %.0f, localize %.0f, train %.0f, validate %.0f)%s", step, self.cfg.trainer.steps,
                     row["pass_rate"], "skipped" if row["loss"] is None else f"{row['loss']:.4f}",
                     row["tokens_generated"], row["time_step_s"], row["time_generate_s"], row["time_verify_s"],
                     row["time_localize_s"], row["time_train_s"], row["time_validate_s"],
                     f", val_pass_rate {row['val_pass_rate']:.3f}" if "val_pass_rate" in row else "")
        fallback = row.get("localization_fallback_rate") if row is not None else None
        if fallback is not None and fallback > 0.5 and self.cfg.agent.name == "srpo":
            log.warning("step %d: the localizer fell back in %.0f%% of reset groups (%d budget-outs): "
                        "these resets are the fallback rule's (agent.localize.fallback=%s), not "
                        "self-localized; see agent.localize.max_new_tokens / answer_prefix", step,
                        100 * fallback, row["localization_budget_outs"], self.cfg.agent.localize.fallback)
        watch = localizer_warning(row) if row is not None else None
        if watch is not None:
            log.warning("step %d: %s", step, watch)
        if result.skipped and self.dist.is_main:
            log.warning("step %d: non-finite loss/gradient, update skipped (%d in a row)",
                        step, self.nonfinite_streak)
        if self.nonfinite_streak >= self.cfg.trainer.max_nonfinite_steps:  # the same on every rank
            raise NonFiniteStop(f"{self.nonfinite_streak} non-finite updates in a row "
                                f"(trainer.max_nonfinite_steps={self.cfg.trainer.max_nonfinite_steps}); "
                                "lower optim.lr or check the model dtype")
        return row if row is not None else {"step": step}

    def _commit_rows(self, step: int, buf: StepBuffer, result: Any, times: PhaseTimes,
                     started: float) -> dict:
        """Validate when due, write the step's rows and checkpoint (rank 0); returns the row."""
        val = self._validate(step, times) if self._validation_due(step) else None
        times.seconds["step"] = time.perf_counter() - started
        row = step_metrics(step, buf, result, times.seconds,
                           val_pass_rate=None if val is None else val["pass_at_k"]["1"])
        self._write(step, row, buf, val)
        if step % self.cfg.trainer.checkpoint_every == 0 or step == self.cfg.trainer.steps:
            self._save(step)
        return row

    def _validate_start(self) -> None:
        """Greedy validation of the starting policy as step 0 (`validation.at_start`), once per
        run: skipped when resuming past step 0 or when eval.jsonl already holds step 0."""
        if not (self.cfg.validation.at_start and self.val_tasks and self.last_done == 0
                and self.dist.is_main):
            return
        if any(int(r.get("step", -1)) == 0 for r in self.run.read("eval.jsonl")):
            return
        times = PhaseTimes()
        val = self._validate(0, times)
        for r in eval_rows(0, self.cfg.env.tasks, self.cfg.env.val_split, val):
            self.run.append("eval.jsonl", r)
        if self.cfg.logging.samples:
            for r in eval_sample_rows(0, self.cfg.env.val_split, val):
                self.run.append("eval_samples.jsonl", r)
        if self.tb is not None:
            self.tb.add_scalar(console.tb_tag("val_pass_rate"), val["pass_at_k"]["1"], 0)
        log.info("step 0: val_pass_rate %.3f (%d tasks, %.0f s)", val["pass_at_k"]["1"],
                 val["n_tasks"], times.seconds["validate"])

    def _validation_due(self, step: int) -> bool:
        v = self.cfg.validation
        if not self.val_tasks:
            return False
        return (v.every > 0 and step % v.every == 0) or (v.at_end and step == self.cfg.trainer.steps)

    def _validate(self, step: int, times: PhaseTimes) -> dict:
        with times.phase("validate"):
            return evaluate_tasks(self.greedy, self.verifier, self.val_tasks, 1, [1])

    def _write(self, step: int, row: dict, buf: Any, val: dict | None) -> None:
        self.run.append("metrics.jsonl", row)
        if self.cfg.logging.samples:
            for sample in sample_rows(step, buf, self.cfg.logging.max_sample_groups):
                self.run.append("samples.jsonl", sample)
        if val is not None:
            for r in eval_rows(step, self.cfg.env.tasks, self.cfg.env.val_split, val):
                self.run.append("eval.jsonl", r)
            if self.cfg.logging.samples:  # what validation generated, to see why it scored so
                for r in eval_sample_rows(step, self.cfg.env.val_split, val):
                    self.run.append("eval_samples.jsonl", r)
        scalars = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self.tb is not None:
            for key, value in scalars.items():
                if key != "step":
                    self.tb.add_scalar(console.tb_tag(key), value, step)  # train/, time/, eval/, reset/
            self.tb.flush()
        if self.wandb is not None:
            self.wandb.log(scalars, step=step)
        self.last_done = step
        self.run.set_status("running", step, self.cfg.trainer.steps)

    def _save(self, step: int) -> None:
        state = {"agent_rng": self.agent_rng.getstate(), "nonfinite_streak": self.nonfinite_streak}
        ckpt.save_checkpoint(self.run.checkpoints, step, self.model, self.tokenizer, self.optimizer,
                             state, keep=self.cfg.trainer.keep_checkpoints)
        self.last_saved = step


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _postfix(row: dict) -> dict:
    out = {"pass": f"{row['pass_rate']:.2f}" if row.get("pass_rate") is not None else "-"}
    if row.get("val_pass_rate") is not None:
        out["val"] = f"{row['val_pass_rate']:.2f}"
    if row.get("loss") is not None:
        out["loss"] = f"{row['loss']:.3f}"
    return out
