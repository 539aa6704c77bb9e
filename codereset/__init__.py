"""codereset: RL with verifiable rewards for language models, built around resets (GRPO, RRPO, SRPO).

Importing the package registers the Gymnasium ids (`ThoughtMDP-Code-v0`, `ThoughtMDP-Math-v0`)
by importing `envs`; nothing heavy (no torch/transformers) happens at import time. Subpackages:
`generation` (backends), `models` (loading), `agents`, `tabular` (exact CPI checks), `report`.

How one SRPO step flows (`python -m codereset.train +agent=srpo`), files in order:
  1. codereset/train.py       - the CLI: Hydra composes conf/train.yaml into `TrainConfig`
                                (codereset/config.py), checks it, runs the `Trainer`.
  2. codereset/trainer.py     - `Trainer` builds the parts once (codereset/builders.py: rules,
                                tasks, policy, backend, verifier; codereset/agents/: the agent);
                                `train_step` runs steps 3-12.
  3. codereset/task_sampler.py - `TaskSampler.batch(step)`: the step's prompts.
  4. codereset/buffer.py      - `BufferBuilder.build`: base group, seed search, reset groups,
                                fallback (method.md's buffer), per prompt.
  5. codereset/rollout.py     - `Roller.run`: every unfinished rollout's next thought in one
                                batched call; `Rollout.advance` appends it, token-exact.
  6. codereset/generation/    - hf.py / vllm.py `generate`: continuations that stop at the stop
                                pattern (or a whole rollout, cut afterwards: sampling.mode).
  7. envs/transition.py       - `step`/`status`: what the thought does to the state and whether
                                the episode ends (the same code as the gym env; envs/rules.py:
                                stop pattern, answer extraction).
  8. envs/verify.py           - `Verifier.score_many`: rewards (math: answer equivalence; code:
                                tests run in sandboxes/), overlapped with generation
                                (codereset/scoring.py).
  9. codereset/agents/srpo.py - `choose_resets`: codereset/localize.py asks the policy for the
                                first wrong thought of each failed seed -> h* (fallback counted).
 10. codereset/rollout.py     - `Rollout.reset_state(h*)` (`envs.transition.reset_to_prefix`):
                                the shared-prefix group's start; `Roller.run` again (5-8).
 11. codereset/update.py      - `assign_advantages` (codereset/advantages.py: each group on its
                                own), then `PolicyUpdater`: log-probs of the trained tokens
                                (codereset/forwards.py, logprobs.py; prefixes masked), the loss
                                (codereset/losses.py), one optimizer step; weights synced to the
                                backend.
 12. codereset/metrics.py     - the metrics.jsonl and samples.jsonl rows, keys checked against
                                codereset/schema.py; written by codereset/rundir.py; validation
                                when due (codereset/eval_tasks.py); checkpoint
                                (codereset/checkpoint.py).
"""

import envs  # noqa: F401  (registers the gym ids)

__version__ = "0.1.0"
