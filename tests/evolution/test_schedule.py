"""The schedule object DSR, RigL and Sparse Momentum compose: update steps and decayed fractions."""
import math

import pytest

from setcourse.evolution import DSR, RigL, Schedule, SparseMomentum


def test_update_steps_every_period_until_the_stop_step():
    schedule = Schedule(update_period=5, stop_fraction=0.75)
    assert schedule.stop_step(40) == 30
    assert [t for t in range(40) if schedule.is_update_step(t, 40)] == [5, 10, 15, 20, 25, 30]
    assert not schedule.is_update_step(-5, 40)
    starting = Schedule(update_period=5, stop_fraction=0.75, updates_at_start=True)
    assert [t for t in range(12) if starting.is_update_step(t, 40)] == [0, 5, 10]


def test_fractions_constant_cosine_and_with_a_floor():
    assert Schedule().fraction_at(0.3, 25, 40) == 0.3
    cosine = Schedule(decay="cosine", stop_fraction=0.5)  # decays over the first 20 steps
    assert cosine.fraction_at(0.3, 0, 40) == pytest.approx(0.3)
    assert cosine.fraction_at(0.3, 10, 40) == pytest.approx(0.15)
    assert cosine.fraction_at(0.3, 30, 40) == pytest.approx(0.0)
    floored = Schedule(decay="cosine", floor=0.005)
    assert floored.fraction_at(0.5, 40, 40) == pytest.approx(0.005)
    assert floored.fraction_at(0.5, 20, 40) == pytest.approx(0.005 + 0.495 / 2)
    assert floored.fraction_at(0.5, 0, 40) == pytest.approx(0.5)


@pytest.mark.parametrize("params, name", [({"update_period": 0}, "update_period"),
                                          ({"stop_fraction": 1.5}, "stop_fraction"),
                                          ({"decay": "linear"}, "decay")])
def test_bad_schedule_parameters_are_named(params, name):
    with pytest.raises(ValueError, match=name):
        Schedule(**params).validate()


def test_strategies_compose_their_schedule_from_their_parameters():
    assert RigL(update_period=7, stop_fraction=0.5, decay="constant").schedule == Schedule(
        7, 0.5, "constant", updates_at_start=True)
    assert DSR(update_period=3).schedule == Schedule(3, 1.0)
    assert SparseMomentum(decay="cosine").schedule.floor == 0.005
    with pytest.raises(ValueError, match="decay must be one of constant, cosine"):
        RigL(decay="linear").validate()


def test_a_strategy_asks_its_schedule_about_the_current_fit():
    from types import SimpleNamespace
    rigl = RigL(update_period=5, stop_fraction=0.75, decay="cosine")
    rigl.setup(SimpleNamespace(step_=100, layers_=[]), steps_per_epoch=10, epochs=4)
    assert [s for s in range(100, 140) if rigl.is_update_step(s)] == [100, 105, 110, 115,
                                                                      120, 125, 130]
    assert rigl.fraction_at(0.3, 110) == pytest.approx(0.15 * (1 + math.cos(math.pi / 3)))
