"""Supervised warm-start of a tiny transformer on the procedural `arith` suite (issue 7, part 2).

`python -m codereset.sft [--out DIR] [options]` trains a few-million-parameter Llama from
scratch (built from a `transformers` config) on the suite's reference thoughts, rendered exactly
as the trainer renders prompts, plus SRPO localization examples (corrupted reference solutions
labelled with the oracle's first wrong step), until the greedy val pass rate reaches the target
band (default 20-40%). The checkpoint loads with `model.name=<DIR>` (e.g. `+experiment=arith_tiny`).

Modules: `config` (SFTConfig), `data` (tokenizer, corruptions, encoded examples), `train` (loop,
evaluation, atomic save), `__main__` (command line), `own_failures` (the second stage:
`python -m codereset.sft.own_failures` teaches localization on the model's own failed rollouts,
labelled by the step oracle, and measures it on held-out failures against a uniform draw).
"""

from codereset.sft.config import ModelShape, SFTConfig
from codereset.sft.data import CORRUPTIONS, Example, corrupt, localization_example, solution_example
from codereset.sft.train import batch_loss, build_model, localization_accuracy, pass_rate, run

__all__ = ["CORRUPTIONS", "Example", "ModelShape", "SFTConfig", "batch_loss", "build_model", "corrupt",
           "localization_accuracy", "localization_example", "pass_rate", "run", "solution_example"]
