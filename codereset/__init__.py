"""codereset: RL with verifiable rewards for language models, built around resets (GRPO, RRPO, SRPO).

Importing the package is cheap (no torch/transformers here). Subpackages: `generation`
(backends), `models` (loading), `advantages`, `losses`, `logprobs`.
"""

__version__ = "0.1.0"
