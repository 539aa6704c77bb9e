"""Known-answer tests for the group advantage estimators."""

import math

import pytest
import torch

from codereset.learn.advantages import ADVANTAGES, get_advantage, group_norm, mean_center, rloo


def test_group_norm_hand_computed():
    # mean 1.5, population std sqrt(1.25)
    a = group_norm(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    s = math.sqrt(1.25)
    assert torch.allclose(a, torch.tensor([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]))


def test_group_norm_binary_rewards_give_plus_minus_one():
    assert group_norm(torch.tensor([1.0, 0.0, 0.0, 1.0])).tolist() == [1.0, -1.0, -1.0, 1.0]


def test_group_norm_uses_population_not_sample_std():
    a = group_norm(torch.tensor([0.0, 1.0]))  # population std 0.5; sample std would give +-0.707
    assert torch.allclose(a, torch.tensor([-1.0, 1.0]))


@pytest.mark.parametrize("value", [0.0, 1.0, 0.375])
def test_group_norm_all_equal_rewards_are_zero(value):
    assert group_norm(torch.full((4,), value)).tolist() == [0.0] * 4


def test_group_norm_std_below_threshold_is_zero():
    a = group_norm(torch.tensor([0.5, 0.5, 0.5, 0.5 + 1e-9], dtype=torch.float64))
    assert a.tolist() == [0.0] * 4


def test_group_norm_single_rollout_is_zero():
    assert group_norm(torch.tensor([0.7])).tolist() == [0.0]


def test_mean_center_and_rloo_hand_computed():
    r = torch.tensor([0.0, 1.0, 2.0, 3.0])
    assert mean_center(r).tolist() == [-1.5, -0.5, 0.5, 1.5]
    # r_i minus the mean of the other three
    expected = [0 - 2.0, 1 - 5 / 3, 2 - 4 / 3, 3 - 1.0]
    assert torch.allclose(rloo(r), torch.tensor(expected))
    assert rloo(torch.tensor([1.0])).tolist() == [0.0]


def test_registry_and_unknown_name():
    assert get_advantage("group_norm") is group_norm
    assert set(ADVANTAGES) >= {"group_norm", "mean_center", "rloo"}
    with pytest.raises(ValueError, match="group_norm"):
        get_advantage("gae")


@pytest.mark.parametrize("bad", [torch.zeros(2, 2), torch.zeros(0), torch.tensor([1.0, float("nan")])])
def test_bad_rewards_raise(bad):
    with pytest.raises(ValueError):
        group_norm(bad)
