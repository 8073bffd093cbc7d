"""Evolution strategies: how a sparse topology changes during training, one rule per module.

``strategy_for(topology, zeta)`` turns the model's ``topology`` argument (a name or a
configured strategy object) into a strategy; ``STRATEGIES`` lists the names. A strategy is
its drop-and-grow rule (see :mod:`~setcourse.evolution.base` for the interface); when and how
much the step-based rules rewire is a composed :class:`~setcourse.evolution.schedule.Schedule`.
"""
from .base import EvolutionStrategy
from .dsr import DSR
from .dst import DST
from .fixprob import FixProb
from .rigl import RigL
from .schedule import Schedule
from .set import SET
from .sparse_momentum import SparseMomentum

STRATEGIES = {"fixprob": FixProb, "set": SET, "dsr": DSR, "sparse_momentum": SparseMomentum,
              "dst": DST, "rigl": RigL}


def strategy_for(topology, zeta=0.3, regrow_init="zero"):
    """The strategy object for ``topology``; ``None`` for ``"dense"``."""
    if isinstance(topology, EvolutionStrategy):
        return topology
    if topology == "dense":
        return None
    if topology == "set":
        return SET(zeta=zeta, regrow_init=regrow_init)
    if topology in STRATEGIES:
        return STRATEGIES[topology]()
    names = ", ".join(["dense", *STRATEGIES])
    raise ValueError(f"topology must be one of {names} or an EvolutionStrategy; got {topology!r}")
