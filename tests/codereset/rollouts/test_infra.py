"""Infrastructure failures: a fault-injecting verifier's sandbox errors are re-verified once by
`Roller.score`; what fails twice is flagged, and `assign_advantages` keeps it out of the group."""

import pytest
from scripted_policy import make_task

from codereset.rollouts.buffer import Group
from codereset.rollouts.infra import infra_failed
from codereset.rollouts.rollout import Roller, Rollout
from codereset.learn.update import assign_advantages
from envs.verify import Outcome


class FaultyVerifier:
    """Scores rollout k with rewards[k]; the tasks in `flaky` get a sandbox error on their first
    verification only, those in `dead` on every one."""

    def __init__(self, rewards, flaky=(), dead=()):
        self.rewards, self.flaky, self.dead = rewards, set(flaky), set(dead)
        self.calls: list[list[str]] = []
        self.seen: set[str] = set()

    def score_many(self, items):
        self.calls.append([task.task_id for task, _ in items])
        out = []
        for task, _ in items:
            k = int(task.task_id[1:])
            first = task.task_id not in self.seen
            self.seen.add(task.task_id)
            if k in self.dead or (k in self.flaky and first):
                out.append(Outcome(0.0, False, "sandbox_error", {"reason": "worker died"}))
            else:
                out.append(Outcome(self.rewards[k], self.rewards[k] == 1.0, "ok"))
        return out


def test_sandbox_errors_are_reverified_once_and_dropped_if_they_persist():
    rollouts = [Rollout(task=make_task(k), prompt_ids=[1], segments=[[2]]) for k in range(4)]
    verifier = FaultyVerifier([1.0, 0.0, 1.0, 0.0], flaky=[1], dead=[2])
    roller = Roller.__new__(Roller)  # score() needs no backend
    roller.score(verifier, rollouts)
    assert verifier.calls == [["t0", "t1", "t2", "t3"], ["t1", "t2"]]  # one batched retry
    assert [r.outcome.status for r in rollouts] == ["ok", "ok", "sandbox_error", "ok"]
    assert [infra_failed(r) for r in rollouts] == [False, False, True, False]
    group = Group("base", rollouts)
    assign_advantages([group], "group_norm")
    # normalized over the three verified rollouts (rewards 1, 0, 0): the failure is not a 0 reward
    assert group.advantages[2] == 0.0
    assert group.advantages == pytest.approx([2 ** 0.5, -(2 ** -0.5), 0.0, -(2 ** -0.5)])
