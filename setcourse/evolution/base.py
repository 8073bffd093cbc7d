"""The interface every evolution strategy implements.

A strategy is its rule for dropping and growing connections; everything else has a default
here. The model calls it at fixed points:

``validate()``
    once, when the model is built: checks the parameters against the class's table
    :attr:`~EvolutionStrategy.RULES` (name -> rule of :mod:`setcourse._validation`);
``make_layer(n_in, n_out, density, rng, init)``
    for every layer of the model, when it is built: dense where ``density >= 1``, else an
    instance of :attr:`~EvolutionStrategy.sparse_layer` (RigL and Sparse Momentum use a layer
    that keeps its backward delta; DST overrides the method: every layer is its masked layer);
``setup(model, steps_per_epoch, epochs)``
    once per ``fit``, before the first batch;
``before_update(model, step)``
    after the backward pass of every batch, before the optimiser step, while the layers'
    gradients are fresh; returning ``True`` skips that optimiser step (RigL rewires here and
    does so; Sparse Momentum accumulates its dense momentum here);
``after_update(model, step)``
    after the optimiser step of every batch (DSR rewires here);
``at_epoch_end(model, epoch)``
    at the end of every epoch but the last (SET and Sparse Momentum rewire here).

When and how much a step-based rule rewires is a :class:`~setcourse.evolution.schedule.Schedule`
(the strategy's :attr:`~EvolutionStrategy.schedule`); :meth:`~EvolutionStrategy.is_update_step`
and :meth:`~EvolutionStrategy.fraction_at` ask it about the current fit.

Strategies keep their own state in attributes ending in ``_``; the model's random
generator ``model.rng_`` is their only source of randomness, so a seed fixes everything.
"""
import inspect

from .._validation import check_params
from ..nn.layers import DenseLayer, SparseLayer


class EvolutionStrategy:
    """No evolution: the base class, and FixProb's behaviour."""

    name = "base"
    #: parameter name -> rule (see :mod:`setcourse._validation`), checked by :meth:`validate`
    RULES = {}
    #: the layer type built where the density is below 1
    sparse_layer = SparseLayer

    # -- building ---------------------------------------------------------------------------
    def validate(self):
        """Raise ValueError naming the first parameter that breaks its rule."""
        check_params(self.get_params(), self.RULES)
        if self.schedule is not None:
            self.schedule.validate()

    def make_layer(self, n_in, n_out, density, rng, init):
        """The model's layer ``n_in -> n_out`` of Erdős–Rényi/ERK ``density``."""
        if density >= 1:
            return DenseLayer(n_in, n_out, rng, init)
        return self.sparse_layer(n_in, n_out, density, rng, init)

    # -- the hooks of the training loop -----------------------------------------------------
    def setup(self, model, steps_per_epoch, epochs):
        self.steps_per_epoch_ = steps_per_epoch
        self.epochs_ = epochs
        self.first_step_ = int(model.step_)
        self.total_steps_ = int(steps_per_epoch * epochs)
        self._schedule = self.schedule  # fixed for the fit; asked at every step

    def before_update(self, model, step):
        return False

    def after_update(self, model, step):
        pass

    def at_epoch_end(self, model, epoch):
        pass

    # -- the schedule -----------------------------------------------------------------------
    @property
    def schedule(self):
        """When and how much the rule rewires (a :class:`Schedule`); ``None``: at epoch ends."""
        return None

    def is_update_step(self, step):
        """Whether the topology changes at global step ``step`` of the current fit."""
        return self._schedule.is_update_step(step - self.first_step_, self.total_steps_)

    def fraction_at(self, fraction, step):
        """``fraction`` decayed by the schedule to global step ``step`` of the current fit."""
        return self._schedule.fraction_at(fraction, step - self.first_step_, self.total_steps_)

    # -- parameters -------------------------------------------------------------------------
    def get_params(self):
        """Constructor arguments, for saving and for display."""
        parameters = inspect.signature(type(self).__init__).parameters.values()
        return {p.name: getattr(self, p.name) for p in parameters
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
