"""The tests of `codereset` live in folders that mirror the package (rollouts/, learn/, run/, eval/,
report/, tabular/); their shared helper `scripted_policy.py` lives here, so this folder goes on
sys.path for all of them (`from scripted_policy import ...`)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
