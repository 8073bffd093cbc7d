"""When a rule rewires and how much: a schedule object that strategies compose.

DSR and RigL rewire every ``update_period`` mini-batches until a stop point; RigL and Sparse
Momentum decay their drop fraction over the fit. A :class:`Schedule` holds those three
choices and answers the two questions (is step ``t`` an update step, what fraction at ``t``);
the strategy keeps its drop and grow scores. Steps are counted from the first step of the
current ``fit`` (``t = 0``), so that a second ``fit`` gets a full schedule of its own.
"""
import math
from dataclasses import dataclass

from .._validation import Choice, Integer, Interval, check_params


def constant_decay(fraction, t, total):
    """The drop fraction stays ``fraction`` at every update."""
    return fraction


def cosine_decay(fraction, t, total):
    r"""Cosine-decayed drop fraction, :math:`\alpha_t = \frac{\alpha}{2}\,(1 + \cos(\pi t / T))`."""
    if total <= 0:
        return fraction
    return fraction / 2 * (1 + math.cos(math.pi * min(t, total) / total))


DECAYS = {"constant": constant_decay, "cosine": cosine_decay}


@dataclass(frozen=True)
class Schedule:
    r"""Rewire every :math:`\Delta T` steps until :math:`\lfloor s T \rfloor`, with a decayed fraction.

    With :math:`t` the step index within the fit (0-based) and :math:`T` its number of steps,
    step :math:`t` is an update step when

    .. math:: t \bmod \Delta T = 0, \qquad t \le \lfloor s\,T \rfloor, \qquad
              t > 0 \text{ unless } \texttt{updates\_at\_start},

    and the fraction at step :math:`t` is
    :math:`f_{min} + \mathrm{decay}(f - f_{min}, t, \lfloor s T \rfloor)`
    (see :func:`cosine_decay`).

    Parameters
    ----------
    update_period : int >= 1
        :math:`\Delta T`, optimiser steps between two rewirings.
    stop_fraction : float in [0, 1]
        :math:`s`, fraction of the fit's steps after which the topology is frozen.
    decay : {"constant", "cosine"}
    updates_at_start : bool
        Whether step 0 of a fit is an update step (RigL's reference: yes; DSR: no).
    floor : float
        :math:`f_{min}`, the value the decay tends to (Sparse Momentum: 0.005).
    """

    update_period: int = 1
    stop_fraction: float = 1.0
    decay: str = "constant"
    updates_at_start: bool = False
    floor: float = 0.0

    RULES = {"update_period": Integer(1), "stop_fraction": Interval(0, 1),
             "decay": Choice(*DECAYS)}

    def validate(self):
        check_params({name: getattr(self, name) for name in self.RULES}, self.RULES)

    def stop_step(self, total_steps):
        """Last fit step at which the topology may change: :math:`\\lfloor s T \\rfloor`."""
        return int(self.stop_fraction * total_steps)

    def is_update_step(self, t, total_steps):
        """Whether the topology changes at step ``t`` of a fit of ``total_steps`` steps."""
        if t % self.update_period or t < 0 or t > self.stop_step(total_steps):
            return False  # (the cheapest test first: it is asked at every step)
        return t > 0 or self.updates_at_start

    def fraction_at(self, fraction, t, total_steps):
        """``fraction`` decayed to step ``t`` of a fit of ``total_steps`` steps."""
        decayed = DECAYS[self.decay]
        if self.floor:
            return self.floor + decayed(fraction - self.floor, t, self.stop_step(total_steps))
        return decayed(fraction, t, self.stop_step(total_steps))
