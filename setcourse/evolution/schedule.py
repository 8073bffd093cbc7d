"""Step-based update schedules: rewire every ΔT optimiser steps, until a stop point.

SET and Sparse Momentum rewire at epoch ends; DSR and RigL rewire every ``update_period``
mini-batches. :class:`PeriodicStrategy` holds that shared schedule, counted from the first
step of the current ``fit`` so that a second ``fit`` gets a full schedule of its own.
"""
from .._validation import check_in_range, check_positive_int
from .base import EvolutionStrategy, decay_function


class PeriodicStrategy(EvolutionStrategy):
    r"""Base of the strategies that rewire every ``update_period`` steps (DSR, RigL).

    With :math:`t` the step index within the current ``fit`` (0-based) and :math:`T` its
    number of steps, step :math:`t` is an update step when

    .. math:: t \bmod \Delta T = 0, \qquad t \le \lfloor s\,T \rfloor, \qquad
              t > 0 \text{ unless the rule updates at } t = 0,

    with :math:`s` = ``stop_fraction``. A decayed fraction at step :math:`t` is
    ``decay(fraction, t, floor(s T))`` (see :func:`~setcourse.evolution.base.cosine_decay`).

    Parameters
    ----------
    update_period : int >= 1
        :math:`\Delta T`, optimiser steps between two rewirings.
    stop_fraction : float in [0, 1]
        Fraction of the fit's steps after which the topology is frozen.
    """

    #: whether step 0 of a fit is an update step (RigL's reference code: yes; DSR: no)
    updates_at_start = False

    def __init__(self, update_period=100, stop_fraction=1.0):
        self.update_period = update_period
        self.stop_fraction = stop_fraction

    def validate(self):
        check_positive_int("update_period", self.update_period)
        check_in_range("stop_fraction", self.stop_fraction, 0, 1)
        if getattr(self, "decay", None) is not None:
            decay_function(self.decay)

    def setup(self, model, steps_per_epoch, epochs):
        super().setup(model, steps_per_epoch, epochs)
        self.validate()
        self.first_step_ = int(model.step_)
        self.total_steps_ = int(steps_per_epoch * epochs)
        self.stop_step_ = int(self.stop_fraction * self.total_steps_)

    def fit_step(self, step):
        """Index of global ``step`` within the current fit."""
        return step - self.first_step_

    def is_update_step(self, step):
        """Whether the topology changes at global step ``step``."""
        t = self.fit_step(step)
        if t < 0 or t > self.stop_step_ or t % self.update_period:
            return False
        return t > 0 or self.updates_at_start

    def decayed(self, fraction, step):
        """``fraction`` decayed by the schedule ``self.decay`` at global step ``step``."""
        return decay_function(self.decay)(fraction, self.fit_step(step), self.stop_step_)
