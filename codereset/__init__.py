"""codereset: RL with verifiable rewards for language models, built around resets (GRPO, RRPO, SRPO).

Importing the package registers the Gymnasium ids (`ThoughtMDP-Code-v0`, `ThoughtMDP-Math-v0`)
by importing `envs`; nothing heavy (no torch/transformers) happens at import time. Subpackages:
`generation` (backends), `models` (loading), `advantages`, `losses`, `logprobs`.
"""

import envs  # noqa: F401  (registers the gym ids)

__version__ = "0.1.0"
