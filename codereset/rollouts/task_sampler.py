"""Which training prompts each step gets: a deterministic, stateless epoch shuffle.

Step s (1-based) takes the prompts at positions (s-1)*P .. s*P-1 of the endless sequence formed
by concatenating shuffled epochs (epoch e is shuffled with seed (seed, e)). Because the batch of a
step depends only on (tasks, P, seed, s), a resumed run gets exactly the prompts it would have had.
"""

from __future__ import annotations

import random
from typing import Any, Sequence


class TaskSampler:
    """Batches of `per_step` tasks from `tasks`; see the module docstring."""

    def __init__(self, tasks: Sequence[Any], per_step: int, seed: int = 0) -> None:
        if not tasks:
            raise ValueError("no training tasks: the suite/split is empty (check env.tasks and env.train_split)")
        if per_step < 1:
            raise ValueError(f"trainer.prompts_per_step must be >= 1, got {per_step}")
        self.tasks = list(tasks)
        self.per_step = per_step
        self.seed = seed
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            order = list(range(len(self.tasks)))
            random.Random(f"{self.seed}:{epoch}").shuffle(order)
            self._orders = {epoch: order}
        return self._orders[epoch]

    def batch(self, step: int) -> list[Any]:
        if step < 1:
            raise ValueError(f"steps are 1-based, got {step}")
        out = []
        for pos in range((step - 1) * self.per_step, step * self.per_step):
            epoch, i = divmod(pos, len(self.tasks))
            out.append(self.tasks[self._order(epoch)[i]])
        return out
