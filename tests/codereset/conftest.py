"""The tests of `codereset` live in folders that mirror the package (rollouts/, learn/, run/, eval/,
report/, tabular/); their shared helpers `scripted_policy.py` and `fake_async_engine.py` (a fake
vLLM `AsyncLLM`) live here, so this folder goes on sys.path for all of them
(`from scripted_policy import ...`)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
