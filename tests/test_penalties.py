"""Penalties against values known in closed form."""

import pytest
import torch
from torch import nn

from gan_bench import penalties


def linear_critic(w: torch.Tensor):
    return lambda x: x.flatten(1) @ w


def test_gradient_penalty_of_linear_critic():
    # grad of x.w is w everywhere: penalty = (||w|| - 1)^2
    w = torch.tensor([3.0, 4.0])
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert penalties.gradient_penalty(linear_critic(w), real, fake).item() == pytest.approx(16.0)
    assert penalties.dragan_penalty(linear_critic(w), real).item() == pytest.approx(16.0)
    assert penalties.r1_penalty(linear_critic(w), real).item() == pytest.approx(25.0)


def test_gradient_penalty_is_differentiable_wrt_critic():
    critic = nn.Linear(2, 1)
    gp = penalties.gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_pull_away_term():
    same = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    orthogonal = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    assert penalties.pull_away_term(same).item() == pytest.approx(1.0)
    assert penalties.pull_away_term(orthogonal).item() == pytest.approx(0.0)


def test_clip_weights():
    layer = nn.Linear(3, 3)
    with torch.no_grad():
        layer.weight.fill_(5.0)
    penalties.clip_weights(layer, 0.01)
    assert layer.weight.abs().max().item() == pytest.approx(0.01)
