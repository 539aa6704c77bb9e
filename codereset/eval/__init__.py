"""Measuring a policy: pass@k of a model or checkpoint on a task suite.

Owns `passk.py` (the unbiased pass@k estimator), `eval_tasks.py` (rolling out and scoring a task
list, and its eval.jsonl / eval_samples.jsonl rows; the trainer's periodic validation uses it too)
and `evaluate.py` (the work of `python -m codereset.evaluate`, whose command line stays
`codereset/evaluate.py`).

May import: `codereset.rollouts` (rollouts and scoring), `codereset.run.schema` (row keys) and,
in `evaluate.py`, `codereset.run` builders, checkpoints and run directory. Nothing is imported
here: import the modules themselves.
"""
