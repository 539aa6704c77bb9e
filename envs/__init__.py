"""Thought-MDP Gymnasium environments and their task suites.

Importing `envs` registers ``ThoughtMDP-Code-v0`` and ``ThoughtMDP-Math-v0`` (entry points only:
nothing is loaded until `gymnasium.make`). Modules:
  rules      - the Thought-MDP text rules (stop pattern, thought splitting, answer extraction);
  transition - the one transition (`step`, `status`, `reset_to_prefix`): episode ends, used by
               the env and the trainer alike;
  prompts    - prompt rendering (instruction + one worked example, chat-template aware);
  verify     - rewards (`Verifier`, `Outcome`);
  oracle     - step-level oracle (`first_error`, `has_oracle`);
  tasks      - `Task`, the suite registry and `load_suite`;
  state      - `ThoughtState` (task + thoughts so far; JSON round trip);
  spaces     - text spaces that accept any Unicode;
  thought_env - `ThoughtMDPEnv`.
"""

import gymnasium

from envs.rules import ThoughtRules
from envs.state import StateError, ThoughtState
from envs.tasks import SUITES, Task, load_suite

ENV_IDS = {"ThoughtMDP-Code-v0": "code", "ThoughtMDP-Math-v0": "math"}
_DEFAULT_TASKS = {"code": "basic", "math": "arith"}

for _env_id, _kind in ENV_IDS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point="envs.thought_env:ThoughtMDPEnv",
                           kwargs={"kind": _kind, "tasks": _DEFAULT_TASKS[_kind]})

__all__ = ["ENV_IDS", "SUITES", "StateError", "Task", "ThoughtRules", "ThoughtState", "load_suite"]
