"""OverlappedScorer: rollouts submitted while generation goes on are all scored by wait(), in
batches, and a scoring error reaches the caller."""

import threading

import pytest

from codereset.rollouts.scoring import OverlappedScorer


class Roller:
    """Stands in for codereset.rollouts.rollout.Roller: score() sets each rollout's outcome."""

    def __init__(self, gate=None, fail=False):
        self.batches = []
        self.gate = gate
        self.fail = fail

    def score(self, verifier, rollouts):
        if self.gate is not None:
            self.gate.wait()
        if self.fail:
            raise RuntimeError("sandbox down")
        self.batches.append(len(rollouts))
        for r in rollouts:
            r["outcome"] = verifier(r["x"])


def test_every_submitted_rollout_is_scored_in_batches_by_wait():
    gate = threading.Event()
    roller = Roller(gate)
    items = [{"x": i} for i in range(10)]
    with OverlappedScorer(roller, lambda x: x * x) as scorer:
        for item in items[:1]:
            scorer.submit(item)
        for item in items[1:]:  # queued while the first batch is held at the gate
            scorer.submit(item)
        gate.set()
        scorer.wait()
    assert [r["outcome"] for r in items] == [i * i for i in range(10)]
    assert sum(roller.batches) == 10 and len(roller.batches) <= 2  # the queue is scored as a batch
    assert scorer.busy_s >= 0


def test_a_scoring_error_is_raised_by_wait_and_submit_after_close_refuses():
    scorer = OverlappedScorer(Roller(fail=True), lambda x: x)
    scorer.submit({"x": 1})
    with pytest.raises(RuntimeError, match="sandbox down"):
        scorer.wait()
    scorer.close()
    with pytest.raises(RuntimeError, match="after close"):
        scorer.submit({"x": 2})


def test_wait_for_returns_once_its_own_rollouts_are_scored_and_reraises_an_error():
    """Graph mode shares one scorer: a call waits for its own rollouts, not for other calls'."""
    gate = threading.Event()

    class Gated(Roller):
        def score(self, verifier, rollouts):
            if any(r["x"] >= 100 for r in rollouts):  # the other call's batch is held
                gate.wait()
            super().score(verifier, rollouts)

    roller = Gated()
    mine, theirs = [{"x": 1}, {"x": 2}], [{"x": 100}]
    with OverlappedScorer(roller, lambda x: -x) as scorer:
        for r in mine:
            scorer.submit(r)
        scorer.wait_for(mine)
        scorer.submit(theirs[0])  # held at the gate: wait() would block here, wait_for(mine) does not
        scorer.wait_for(mine)
        assert [r["outcome"] for r in mine] == [-1, -2] and "outcome" not in theirs[0]
        gate.set()
        scorer.wait_for(theirs)
    assert theirs[0]["outcome"] == -100
    with OverlappedScorer(Roller(fail=True), lambda x: x) as scorer:
        item = {"x": 3}
        scorer.submit(item)
        with pytest.raises(RuntimeError, match="sandbox down"):
            scorer.wait_for([item])
