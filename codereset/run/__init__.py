"""A training run's life and records: build it, check it, run it, stop it, resume it, log it.

Owns `trainer.py` (`Trainer`: builds the parts once, runs the steps), `builders.py` (rules, tasks,
policy, backend, verifier from the config), `preflight.py` (configuration errors before anything
loads), `rundir.py` / `resume.py` / `checkpoint.py` (the run directory, resuming it, weights and
optimizer state), `interrupts.py` (Ctrl-C and signals), `distributed.py` (ranks under torchrun),
`timing.py` (phase timers), `metrics.py` (the metrics.jsonl and samples.jsonl rows) and `schema.py`
(every row key, declared once with its doc).

May import every other part of `codereset` (it is the top of the step's flow) as well as `envs`
and `sandboxes`; nothing below it imports `trainer.py`. Nothing is imported here: import the
modules themselves.
"""
