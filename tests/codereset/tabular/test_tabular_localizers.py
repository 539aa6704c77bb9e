"""The localizers added for the reset map: "symptom" (h* = n) and "mixed" (the oracle's answer
with probability `accuracy`, else another localizer's), against the known laws."""

import numpy as np
import pytest

from codereset.tabular.family import PromptSpec, ThoughtChainSpec, build
from codereset.tabular.localizers import LocalizerConfig, localize
from codereset.tabular.mdp import evaluate

ALIVE, DEAD = 0, 1
SEED = np.array([ALIVE, ALIVE, DEAD, DEAD, DEAD])  # the second thought was fatal: h_oracle = 2, n = 4


@pytest.fixture(scope="module")
def chain():
    mdp = build(ThoughtChainSpec(horizon=4, n_thoughts=2, prompts=(PromptSpec(1.0, ((1,),) * 4),)))
    return mdp, evaluate(mdp, mdp.uniform_policy()).v_star


def draws(chain, cfg: LocalizerConfig, n: int = 4000) -> np.ndarray:
    mdp, v_star = chain
    rng = np.random.default_rng(0)
    out = np.array([localize(cfg, mdp, v_star, SEED, rng) for _ in range(n)])
    assert (out[:, 1] == 2).all()  # the oracle's index rides along
    return out[:, 0]


def test_symptom_answers_the_last_thought(chain):
    assert set(draws(chain, LocalizerConfig("symptom"), 50)) == {4}


def test_mixed_at_accuracy_one_is_perfect(chain):
    assert set(draws(chain, LocalizerConfig("mixed", accuracy=1.0), 200)) == {2}


def test_mixed_at_accuracy_zero_is_uniform_in_law(chain):
    h = draws(chain, LocalizerConfig("mixed", accuracy=0.0))
    freq = np.bincount(h, minlength=5)[1:] / len(h)
    np.testing.assert_allclose(freq, 0.25, atol=0.03)  # binomial sd ~0.007 per cell


@pytest.mark.parametrize("otherwise, exact, last", [("random", 0.5 + 0.5 / 4, 0.5 / 4), ("symptom", 0.5, 0.5)])
def test_mixed_exact_share_is_q_plus_the_others_share(chain, otherwise, exact, last):
    h = draws(chain, LocalizerConfig("mixed", accuracy=0.5, otherwise=otherwise))
    assert np.mean(h == 2) == pytest.approx(exact, abs=0.03)
    assert np.mean(h == 4) == pytest.approx(last, abs=0.03)


def test_bad_mixed_configs_are_refused():
    with pytest.raises(ValueError, match=r"accuracy must lie in \[0, 1\]"):
        LocalizerConfig("mixed", accuracy=1.5)
    with pytest.raises(ValueError, match="other than 'mixed'"):
        LocalizerConfig("mixed", otherwise="mixed")
