"""codereset: RL with verifiable rewards for language models, built around resets (GRPO, RRPO, SRPO).

Importing the package registers the Gymnasium ids (`ThoughtMDP-Code-v0`, `ThoughtMDP-Math-v0`)
by importing `envs`; nothing heavy (no torch/transformers) happens at import time.

Layout, by what each part does (each subpackage's docstring says what it owns and may import):
  train.py, evaluate.py  the two commands (`python -m codereset.train`, `codereset.evaluate`)
  config/     the structured configs behind conf/*.yaml, one module per section
  rollouts/   everything that builds a step's buffer: prompts, rollouts, scoring, resets, values
  learn/      everything that turns the buffer into a gradient: advantages, forwards, losses, update
  run/        a training run's life and records: trainer, builders, checks, run directory,
              checkpoints, resume, signals, ranks, metrics and their schema
  eval/       pass@k of a model or checkpoint (the work behind `codereset.evaluate`)
  agents/ (how each method picks resets and builds groups), generation/ (backends), models/
  (loading), report/, sft/, tabular/ (exact CPI checks).

How one SRPO step flows (`python -m codereset.train +agent=srpo`), files in order:
  1. codereset/train.py      - the CLI: Hydra composes conf/train.yaml into `TrainConfig`
                               (codereset/config/), checks it, runs the `Trainer`.
  2. run/trainer.py          - `Trainer` builds the parts once (run/builders.py: rules, tasks,
                               policy, backend, verifier; agents/: the agent); `train_step`
                               runs steps 3-12.
  3. rollouts/task_sampler.py - `TaskSampler.batch(step)`: the step's prompts.
  4. rollouts/buffer.py      - `BufferBuilder.build`: base group, seed search, reset groups,
                               fallback (method.md's buffer), per prompt.
  5. rollouts/rollout.py     - `Roller.run`: every unfinished rollout's next thought in one
                               batched call; `Rollout.advance` appends it, token-exact.
  6. generation/             - hf.py / vllm.py `generate`: continuations that stop at the stop
                               pattern (or a whole rollout, cut afterwards: sampling.mode).
  7. envs/transition.py      - `step`/`status`: what the thought does to the state and whether
                               the episode ends (the same code as the gym env; envs/rules.py:
                               stop pattern, answer extraction).
  8. envs/verify.py          - `Verifier.score_many`: rewards (math: answer equivalence; code:
                               tests run in sandboxes/), overlapped with generation
                               (rollouts/scoring.py).
  9. agents/localizers.py    - `choose_resets` (agents/base.py `ResetAgent`) runs the agent's
                               localizer; SRPO's ("self"): rollouts/localize.py asks the policy
                               for the first wrong thought of each failed seed -> h* (fallback
                               counted).
 10. rollouts/rollout.py     - `Rollout.reset_state(h*)` (`envs.transition.reset_to_prefix`):
                               the shared-prefix group's start; `Roller.run` again (5-8).
 11. learn/update.py         - `assign_advantages` (learn/advantages.py: each group on its own),
                               then `PolicyUpdater`: log-probs of the trained tokens
                               (learn/forwards.py, prefix_forward.py, logprobs.py; prefixes
                               masked), the loss (learn/losses.py), one optimizer step; weights
                               synced to the backend.
 12. run/metrics.py          - the metrics.jsonl and samples.jsonl rows, keys checked against
                               run/schema.py; written by run/rundir.py; validation when due
                               (eval/eval_tasks.py); checkpoint (run/checkpoint.py).
Paths without a leading `codereset/` or `envs/` are under codereset/.
"""

import envs  # noqa: F401  (registers the gym ids)

__version__ = "0.1.0"
