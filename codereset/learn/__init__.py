"""Everything that turns a step's buffer into a gradient and one optimizer step.

Owns `advantages.py` (the advantage estimators, one signature, per group), `losses.py` (the policy
losses), `logprobs.py` (collating rows and scoring trained tokens), `scored.py` (what every forward
returns and checks), `forwards.py` (the forward registry and the plain forward), `prefix_forward.py`
(the shared-prefix forward) and `update.py` (`assign_advantages`, mini-batches, `PolicyUpdater`).

May import: `codereset.rollouts.infra` (which rollouts failed for infrastructure) and
`codereset.run.distributed` (the gradient all-reduce across ranks). Never the rollout machinery,
the agents or the trainer. Nothing is imported here: import the modules themselves.
"""
