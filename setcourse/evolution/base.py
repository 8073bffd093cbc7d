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
    once per ``fit``, before the first batch (or, restored from a checkpoint, to continue the
    saved fit: see *Checkpoints* below);
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

**Checkpoints.** What a strategy keeps between steps is declared, as a layer's is:
:attr:`~EvolutionStrategy.STATE` names its scalar state (attribute -> rule, checked when a file
is read), :meth:`~EvolutionStrategy.state` gives it, :meth:`~EvolutionStrategy.state_arrays`
its arrays (Sparse Momentum's momentum window), :meth:`~EvolutionStrategy.state_spec` their
shapes and dtypes for a model's layers, and :meth:`~EvolutionStrategy.restore` takes both back,
checked first (:meth:`~EvolutionStrategy.check_state`). A strategy restored from a checkpoint
written at an epoch end of an unfinished fit continues that fit when the next ``fit`` asks
for the epochs that remain at the same steps per epoch: same schedule position, counters and
momentum window, so the run goes on exactly as if it had not been interrupted. Any other next
fit starts afresh, as every fit does, and warns if that restarts a schedule.
"""
import inspect

import numpy as np

from .._validation import (Integer, check_finite_arrays, check_params, check_state_arrays,
                           warn_caller)
from ..nn.layers import DenseLayer, SparseLayer


class Each:
    """A list whose every element ``rule`` accepts (a rule of :mod:`setcourse._validation`)."""

    def __init__(self, rule):
        self.rule = rule

    def check(self, name, value):
        if not isinstance(value, list):
            raise ValueError(f"{name} must be a list; got {value!r:.80}")
        for index, element in enumerate(value):
            self.rule.check(f"{name}[{index}]", element)


def plain(value):
    """``value`` as JSON holds it: numpy scalars as Python numbers, lists element-wise."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class EvolutionStrategy:
    """No evolution: the base class, and FixProb's behaviour."""

    name = "base"
    #: parameter name -> rule (see :mod:`setcourse._validation`), checked by :meth:`validate`
    RULES = {}
    #: the scalar state a checkpoint keeps: attribute -> rule, checked by :meth:`check_state`
    #: (subclasses extend it); the position in the fit, which a resumed fit continues from
    STATE = {"steps_per_epoch_": Integer(1), "epochs_": Integer(1), "first_step_": Integer(0),
             "total_steps_": Integer(1)}
    #: what a fit that does not continue the saved one restarts (for its warning)
    restarts = "its schedule"
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

    # -- memory, read by setcourse.plan before a build ---------------------------------------
    #: bytes one rewiring needs above a layer's kept arrays, ``(per connection of the layer,
    #: per connection regrown into it)``, measured with tracemalloc for each library rule and
    #: rounded up over every point (here SET's, for a rule that declares no figure of its own)
    REWIRE_BYTES = (39, 20)

    @property
    def rewires_in_step(self):
        """Whether the rewiring runs inside a training step, beside its activations: the
        rules whose layers keep their backward delta, which they grow from."""
        return bool(self.sparse_layer.keeps_delta)

    def regrown_bound(self, n_in, n_out, connections, sparse_connections, classifier):
        """A bound on the connections one rewiring regrows into a sparse layer ``n_in ->
        n_out`` of ``connections`` (``sparse_connections`` over all sparse layers;
        ``classifier``: it is the last layer); 0 for a layer it never rewires, as here. A
        rule that rewires says how much, so that :mod:`setcourse.plan` can cost it."""
        return 0

    def rewiring_bytes(self, n_in, n_out, connections, sparse_connections, classifier):
        """Bytes one rewiring of that layer needs above its kept arrays (0: never rewired)."""
        regrown = self.regrown_bound(n_in, n_out, connections, sparse_connections, classifier)
        if regrown < 1:  # nothing to rewire (zeta or the drop fraction 0): the rule returns early
            return 0
        per_connection, per_regrown = self.REWIRE_BYTES
        return int(np.ceil(per_connection * connections + per_regrown * regrown))

    # -- the hooks of the training loop -----------------------------------------------------
    def setup(self, model, steps_per_epoch, epochs):
        """Start a fit of ``epochs`` epochs, or continue the one restored from a checkpoint
        (see :attr:`resumed`): subclasses keep their counters when :attr:`resumed` is True."""
        saved, self._saved_fit = getattr(self, "_saved_fit", None), None
        self._resumed = False
        if saved is not None and saved["step"] == model.step_:
            # The first fit after loading (a rebuilt or since-trained model drops it silently).
            remaining = (saved["total"] - saved["done"]) // saved["per_epoch"]
            if saved["done"] % saved["per_epoch"] == 0 and steps_per_epoch == saved["per_epoch"] \
                    and epochs == remaining:
                self._resumed = True
            elif self.schedule is not None:
                self._warn_fresh_start(saved, steps_per_epoch, epochs, remaining)
        if not self._resumed:
            self.steps_per_epoch_ = int(steps_per_epoch)
            self.epochs_ = int(epochs)
            self.first_step_ = int(model.step_)
            self.total_steps_ = int(steps_per_epoch * epochs)
        self._schedule = self.schedule  # fixed for the fit; asked at every step

    @property
    def resumed(self):
        """Whether the current fit continues the unfinished fit of the checkpoint this strategy
        was restored from (set by :meth:`setup`)."""
        return getattr(self, "_resumed", False)

    def _warn_fresh_start(self, saved, steps_per_epoch, epochs, remaining):
        per_epoch, done, total = saved["per_epoch"], saved["done"], saved["total"]
        if done % per_epoch:
            where = (f"was saved within an epoch (step {done} of the {total} of a fit), where no "
                     f"fit can continue it exactly")
            advice = ""
        else:
            where = f"saved {done // per_epoch} of the {total // per_epoch} epochs of a fit"
            advice = (f" To continue the saved fit exactly, fit the same data ({per_epoch} "
                      f"steps per epoch) for epochs={remaining}.")
        other = ("" if steps_per_epoch == per_epoch or done % per_epoch
                 else f" at {steps_per_epoch} steps per epoch instead of {per_epoch}")
        warn_caller(f"{type(self).__name__}: the checkpoint this model was loaded from {where}; "
                    f"this fit of {epochs} epoch(s){other} starts afresh, restarting "
                    f"{self.restarts}.{advice}")

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

    # -- checkpoints ------------------------------------------------------------------------
    def state(self):
        """The scalar state a checkpoint keeps: ``{name: value}`` of :attr:`STATE` that is set,
        as JSON holds it."""
        return {name: plain(getattr(self, name)) for name in self.STATE if hasattr(self, name)}

    def state_arrays(self):
        """The array state a checkpoint keeps, ``{name: array}``; none by default."""
        return {}

    def state_spec(self, layers):
        """What :meth:`restore` takes as arrays for a model of ``layers``:
        ``{name: (shape, dtypes)}``, as :meth:`~setcourse.nn.layers.Layer.state_spec`. A file
        holds all of them or none (no state of that kind when it was written).

        ``layers``: the model's layers, or anything with their ``n_in``, ``n_out`` and
        ``keeps_delta`` (the checkpoint passes what the file's metadata describes, to check
        its array headers before reading them)."""
        return {}

    def check_state(self, state, arrays, model, prefix="strategy."):
        """Raise ValueError naming the first field of ``state`` (scalars, from the file's
        ``strategy_state``) or array of ``arrays`` that this strategy, in ``model`` (built,
        ``model.step_`` the step the file was written at), cannot take back: a value that
        breaks its :attr:`STATE` rule, a position in the fit that contradicts the step, a
        missing or unexpected array, a shape or dtype other than :meth:`state_spec`'s, a NaN
        or inf. Fields not in :attr:`STATE` are refused, except in a file of format 1
        (``arrays is None``: written before strategies declared their state), where they are
        ignored. O(size), vectorised."""
        unknown = sorted(set(state) - set(self.STATE))
        if unknown and arrays is not None:
            raise ValueError(f"meta 'strategy_state' has the field(s) {', '.join(unknown)}, "
                             f"which {type(self).__name__} does not keep (it keeps "
                             f"{', '.join(self.STATE)})")
        for name, rule in self.STATE.items():
            if name in state:
                rule.check(f"meta 'strategy_state' {name!r}", state[name])
        fit = [state.get(name) for name in ("steps_per_epoch_", "epochs_", "first_step_",
                                            "total_steps_")]
        if None not in fit:
            per_epoch, epochs, first, total = fit
            if total != per_epoch * epochs:
                raise ValueError(f"meta 'strategy_state' 'total_steps_' is {total}, but a fit of "
                                 f"epochs_={epochs} at steps_per_epoch_={per_epoch} has "
                                 f"{per_epoch * epochs} steps")
            if not first <= model.step_ <= first + total:
                raise ValueError(f"meta 'strategy_state' 'first_step_' is {first}, but the fit "
                                 f"of {total} steps it starts cannot be at the checkpoint's "
                                 f"step {model.step_}")
        if arrays:
            spec = self.state_spec(model.layers_)
            check_state_arrays(arrays, spec, prefix)
            check_finite_arrays(arrays, [name for name, (_, dtypes) in spec.items()
                                         if all(np.dtype(d).kind == "f" for d in dtypes)],
                                prefix)

    def restore(self, state, arrays, model):
        """Take back ``state`` and ``arrays`` (from :meth:`state` and :meth:`state_arrays`;
        ``arrays`` None for a file of format 1), checked by :meth:`check_state` first, for
        ``model`` (built, at the step the file was written). Remembers whether the saved fit
        was unfinished, for :meth:`setup` to continue it."""
        self.check_state(state, arrays, model)
        self.restore_checked(state, arrays or {}, model)

    def restore_checked(self, state, arrays, model):
        """:meth:`restore` without the check; subclasses take back their arrays."""
        for name in self.STATE:
            if name in state:
                setattr(self, name, state[name])
        self._saved_fit = None
        if all(hasattr(self, name) for name in ("steps_per_epoch_", "first_step_",
                                                 "total_steps_")):
            done = model.step_ - self.first_step_
            if 0 < done < self.total_steps_:
                self._saved_fit = {"step": model.step_, "done": done, "total": self.total_steps_,
                                   "per_epoch": self.steps_per_epoch_}

    # -- parameters -------------------------------------------------------------------------
    def get_params(self):
        """Constructor arguments, for saving and for display."""
        parameters = inspect.signature(type(self).__init__).parameters.values()
        return {p.name: getattr(self, p.name) for p in parameters
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
