"""Infrastructure failures kept out of the gradient (issue 13 item 5).

A verification that ended in a sandbox error (a dead worker, a daemon gone: `sandboxes` reports
it as status "sandbox_error" after its own retry) says nothing about the rollout. `score_with_retry`
re-verifies such rollouts once more; one that fails again is an *infrastructure failure*
(`infra_failed`): `codereset.learn.update` leaves it out of its group's advantage normalization and out
of the batch, and counts it (`rollouts_infra_failed`), so it is never scored 0 and normalized
against its siblings.
"""

from __future__ import annotations

from typing import Any, Sequence

INFRA_STATUSES = frozenset({"sandbox_error"})


def is_infra_outcome(outcome: Any) -> bool:
    """The verifier could not judge (its status is an infrastructure status)."""
    return outcome is not None and outcome.status in INFRA_STATUSES


def infra_failed(rollout: Any) -> bool:
    """The rollout's verification (after its re-verification) ended in an infrastructure failure."""
    return is_infra_outcome(rollout.outcome)


def score_with_retry(verifier: Any, items: Sequence[tuple[Any, Sequence[str]]]) -> list[Any]:
    """`verifier.score_many(items)`, with the items whose outcome is an infrastructure failure
    scored once more (one batched call); their second outcome is kept, whatever it is."""
    outcomes = list(verifier.score_many(items))
    retry = [i for i, o in enumerate(outcomes) if is_infra_outcome(o)]
    if retry:
        for i, outcome in zip(retry, verifier.score_many([items[i] for i in retry]), strict=True):
            outcomes[i] = outcome
    return outcomes
