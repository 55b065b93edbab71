"""The loss surface over two scalar parameters, and its contour points."""

from __future__ import annotations

import pytest
import torch

from optimstep.core import Scenario
from optimstep.core.surface import (LossSurface, Surface, bounds, contour_levels, contour_points,
                                    scalar_pair)


@pytest.fixture
def built():
    return Scenario().build()


def test_scalar_pair_of_linear_1_1(built):
    assert scalar_pair(built.model) == ("weight", "bias")


def test_scalar_pair_none_for_wider_model():
    assert scalar_pair(torch.nn.Linear(2, 1)) is None


def test_surface_rejects_wider_model():
    with pytest.raises(ValueError, match="exactly two scalar parameters"):
        LossSurface(torch.nn.Linear(2, 1), torch.nn.MSELoss(), [])


def test_loss_at_grid_point_matches_model(built):
    surface = LossSurface(built.model, built.loss_fn, built.batches).evaluate((-0.5, 0.5),
                                                                              (1.0, 2.0), 3)
    inputs, targets = built.batches[0]
    with torch.no_grad():
        expected = built.loss_fn(inputs * -0.5 + 1.0, targets).item()
    assert surface.losses[0][0] == pytest.approx(expected)


def test_grid_axes_span_ranges(built):
    surface = LossSurface(built.model, built.loss_fn, built.batches).evaluate((-1, 1), (0, 2), 5)
    assert surface.xs == (-1.0, -0.5, 0.0, 0.5, 1.0)
    assert surface.ys[0] == 0.0
    assert surface.ys[-1] == 2.0


def test_live_model_untouched(built):
    before = {name: p.detach().clone() for name, p in built.model.named_parameters()}
    LossSurface(built.model, built.loss_fn, built.batches).evaluate((-3, 3), (-3, 3), 4)
    assert all(torch.equal(p, before[name]) for name, p in built.model.named_parameters())


def test_rng_state_restored(built):
    state = torch.get_rng_state()
    LossSurface(built.model, built.loss_fn, built.batches).evaluate((-1, 1), (-1, 1), 3)
    assert torch.equal(torch.get_rng_state(), state)


def plane() -> Surface:
    """z = x on a 5 × 3 grid over x in [0, 1]."""
    xs = (0.0, 0.25, 0.5, 0.75, 1.0)
    return Surface(("x", "y"), xs, (0.0, 0.5, 1.0), tuple(xs for _ in range(3)))


def test_contour_points_lie_on_level():
    points = contour_points(plane(), 0.6)
    assert points
    assert all(x == pytest.approx(0.6) for x, _ in points)


def test_contour_levels_inside_range():
    levels = contour_levels(plane(), 4)
    assert len(levels) == 4
    assert all(0 < level < 1 for level in levels)


def test_contour_levels_geometric_for_positive_losses():
    surface = Surface(("x", "y"), (0.0, 1.0), (0.0, 1.0), ((1.0, 10.0), (100.0, 1000.0)))
    assert contour_levels(surface, 2) == pytest.approx([10.0, 100.0])


def test_contour_levels_empty_for_flat_surface():
    assert contour_levels(Surface(("x", "y"), (0.0, 1.0), (0.0, 1.0), ((2.0, 2.0),) * 2)) == []


def test_bounds_contain_points():
    (x0, x1), (y0, y1) = bounds([(0.0, 1.0), (2.0, -1.0)])
    assert x0 < 0.0
    assert x1 > 2.0
    assert y0 < -1.0
    assert y1 > 1.0


def test_bounds_widen_single_point():
    (x0, x1), _ = bounds([(0.5, 0.5)], min_span=1.0)
    assert x1 - x0 >= 1.0
