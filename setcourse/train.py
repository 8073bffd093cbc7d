"""The training loop: mini-batches, phase timings, evolution, callbacks and history.

One loop serves every model: the phases are timed separately (forward incl. loss, backward,
update, evolution, evaluation) so that dense and sparse models can be compared phase by
phase, and callbacks see the model at batch end, just before evolution and at epoch end.
"""
import contextlib
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from .callbacks import PHASES
from .nn import kernels
from .nn.buffers import ActivationBuffers
from ._validation import (check_features, check_labels, check_positive_int,
                          check_validation_data, integer_labels)


def call_hook(callbacks, hook, *args):
    """Call ``hook`` of every callback with ``args``."""
    for callback in callbacks:
        getattr(callback, hook)(*args)


def close_epoch(model, epoch, row, stopped, callbacks, phases=PHASES):
    """Finish epoch ``epoch``'s history row (total seconds over ``phases``, nnz, stopped),
    append it, count the epoch and call ``on_epoch_end``; True when training must stop.

    Shared by every estimator's loop (the MLP's :func:`fit`, the RBM's)."""
    row["seconds_epoch"] = sum(row[f"seconds_{phase}"] for phase in phases)
    row["nnz"] = model.nnz_
    row["stopped"] = bool(stopped)
    model.history_.append(row)
    model.epoch_ += 1
    call_hook(callbacks, "on_epoch_end", model, epoch, row)
    return model.stop_training_



def fit(model, X, y, validation_data=None, epochs=None, callbacks=(), batch_transform=None):
    """Train ``model`` (an :class:`~setcourse.model.MLP`) in place; returns the model.

    Parameters
    ----------
    X : (n_samples, n_features) array
    y : (n_samples,) int labels
    validation_data : (X_test, y_test), optional
        Evaluated after every epoch (``test_loss``, ``test_accuracy``).
    epochs : int, optional
        Overrides ``model.epochs``.
    callbacks : sequence of Callback
    batch_transform : callable ``(X_batch, rng) -> X_batch``, optional
        Applied to each training batch (batch-major), e.g. data augmentation.

    History keys per epoch: ``epoch``, ``train_loss``, ``train_accuracy`` (running means over
    the epoch's batches, with dropout), ``test_loss``, ``test_accuracy`` (evaluated before the
    epoch's evolution step, on the network just trained), ``seconds_<phase>``
    for each phase, ``seconds_epoch``, ``nnz`` (per layer) and ``stopped``.
    """
    epochs = model.epochs if epochs is None else epochs
    check_positive_int("epochs", epochs)
    model.validate_params()
    built = hasattr(model, "layers_") and model.warm_start
    X = np.ascontiguousarray(check_features(X, model.n_features_in_ if built else None))
    if X.shape[0] == 0:
        raise ValueError("X must contain at least one sample; got 0")
    if validation_data is not None:
        X_test, y_test = check_validation_data(validation_data)
        X_test = check_features(X_test, X.shape[1], "X_test")
    if built:
        n_classes = model.n_classes_
    elif model.n_classes is not None:
        n_classes = model.n_classes
    else:
        labels = [integer_labels(y)] + (
            [integer_labels(y_test, "y_test")] if validation_data is not None else [])
        n_classes = max(int(np.max(lab)) + 1 if lab.size else 0 for lab in labels)
        n_classes = max(n_classes, 2)
    y = check_labels(y, X.shape[0], n_classes)
    if validation_data is not None:
        y_test = check_labels(y_test, X_test.shape[0], n_classes, "y_test")
    if not built:
        model.build(X.shape[1], n_classes, n_samples=X.shape[0])

    n = X.shape[0]
    batch_size = min(model.batch_size, n)
    steps_per_epoch = math.ceil(n / batch_size)
    strategy = model.strategy_
    if strategy is not None:
        strategy.setup(model, steps_per_epoch, epochs)
    model.stop_training_ = False
    # OpenBLAS threads spin after each call and steal the cores numba's kernels need: a
    # sparse model keeps BLAS (only its small dense layers use it) to one thread.
    limits = threadpool_limits(limits=1, user_api="blas") if model.is_sparse else contextlib.nullcontext()
    # Overflow shows up as a non-finite loss, reported below with advice; no numpy warnings.
    with limits, np.errstate(over="ignore", invalid="ignore"):
        call_hook(callbacks, "on_train_begin", model)
        for epoch_in_run in range(epochs):
            epoch = model.epoch_
            last_epoch = epoch_in_run == epochs - 1
            call_hook(callbacks, "on_epoch_begin", model, epoch)
            row = _train_epoch(model, X, y, batch_size, epoch, callbacks, batch_transform)
            stopped = model.stop_training_
            # Evaluate the network that was trained, before evolution rewires it (as SET does).
            start = time.perf_counter()
            if validation_data is not None:
                row["test_loss"], row["test_accuracy"] = model.evaluate(X_test, y_test)
            else:
                row["test_loss"] = row["test_accuracy"] = float("nan")
            row["seconds_evaluation"] = time.perf_counter() - start
            call_hook(callbacks, "before_evolution", model, epoch)
            start = time.perf_counter()
            if strategy is not None and not last_epoch and not stopped:
                strategy.at_epoch_end(model, epoch)
            row["seconds_evolution"] += time.perf_counter() - start
            if close_epoch(model, epoch, row, stopped, callbacks):
                break
        call_hook(callbacks, "on_train_end", model)
    return model


def divergence_advice(model, X):
    """The likely causes of a divergence, from the hyper-parameters and the data's scale.

    Which hyper-parameter is to blame cannot be known for sure; what can be said honestly:
    weight decay alone diverges when it leaves its stable range (decoupled,
    :math:`w \\leftarrow (1 - \\lambda) w + v`: :math:`\\lambda < 2`; L2 through the
    momentum, on :math:`\\lambda w^2 / 2`: :math:`\\eta\\lambda < 2(1 + \\mu)`) and adds to
    the loss's curvature below it; momentum near 1 amplifies every step about
    :math:`1 / (1 - \\mu)` times; inputs far from unit scale make every gradient large. The
    learning rate is named in every case: it scales the gradient steps.
    """
    causes = []
    lr, mu, decay = float(model.lr), float(model.momentum), float(model.weight_decay)
    mode = getattr(model, "weight_decay_mode", "l2")
    if mode == "decoupled":
        if decay >= 2:
            causes.append(f"weight decay: weight_decay={decay:g} (decoupled) multiplies every "
                          f"weight by 1 - weight_decay = {1 - decay:.3g} at each step, a factor "
                          f"of magnitude >= 1: the decay alone makes the weights flip sign and "
                          f"grow (it must be below 2; typical values are 1e-4 to 1e-3); lower "
                          f"weight_decay")
        elif decay >= 0.5:
            causes.append(f"weight decay: weight_decay={decay:g} (decoupled) multiplies every "
                          f"weight by {1 - decay:.3g} at each step, on top of the gradient "
                          f"step (typical values are 1e-4 to 1e-3); lower weight_decay")
    elif lr * decay >= 2 * (1 + mu):
        causes.append(f"weight decay: lr * weight_decay = {lr:g} * {decay:g} = {lr * decay:.3g} "
                      f"is outside the stable range of SGD with momentum={mu:g} (it must be "
                      f"below 2 (1 + momentum) = {2 * (1 + mu):.3g}), so the decay alone "
                      f"makes the weights oscillate with a growing amplitude; lower "
                      f"weight_decay (or lr)")
    elif lr * decay >= 0.5 * (1 + mu):
        causes.append(f"weight decay: lr * weight_decay = {lr * decay:.3g} is a quarter or "
                      f"more of the stable limit 2 (1 + momentum) = {2 * (1 + mu):.3g}, and "
                      f"the loss's own curvature adds to it; lower weight_decay (or lr)")
    if mu >= 0.99:
        causes.append(f"momentum={mu:g} is close to 1: each gradient acts about "
                      f"{1 / (1 - mu):.0f} times; lower momentum (or lr)")
    scale = float(np.max(np.abs(X))) if X.size else 0.0
    if scale > 1e3:
        causes.append(f"the inputs reach |x| = {scale:.3g}: standardise or rescale X "
                      f"(e.g. to [0, 1]), which also keeps the gradients small")
    causes.append(f"the learning rate: try a smaller learning rate than lr={model.lr}")
    if len(causes) == 1:
        return causes[0].removeprefix("the learning rate: ")
    return "likely cause(s): " + "; ".join(f"({i}) {c}" for i, c in enumerate(causes, 1))


def _train_epoch(model, X, y, batch_size, epoch, callbacks, batch_transform):
    """One pass over the shuffled data; returns the epoch's partial history row."""
    n = X.shape[0]
    order = model.rng_.permutation(n)
    seconds = dict.fromkeys(PHASES, 0.0)
    strategy = model.strategy_
    loss_sum = correct = seen = 0.0
    n_batches = math.ceil(n / batch_size)
    # One epoch's activation blocks, reused from step to step; freed with it, so evaluation
    # and evolution have that memory back.
    buffers = ActivationBuffers()
    for batch in range(n_batches):
        index = order[batch * batch_size:(batch + 1) * batch_size]
        if batch_transform is None:
            xb = np.empty((X.shape[1], index.size), dtype=np.float32)
            kernels.gather_feature_major(X, index, xb)  # the model works feature-major
        else:
            xb = np.asarray(batch_transform(X[index], model.rng_), dtype=np.float32)
            xb = np.ascontiguousarray(xb.T)
        yb = y[index]
        # Armed as the last step left them; again here because an evaluation (each epoch's, or
        # a callback's) disarms them: so no step keeps a gradient array, the first included.
        model.optimizer_.arm(model.layers_)
        t0 = time.perf_counter()
        logits = model.forward(xb, training=True, buffers=buffers)
        loss, grad = model.loss_.loss_and_grad(logits, yb)
        t1 = time.perf_counter()
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training diverged: the loss became {loss} in epoch {epoch + 1} (batch {batch + 1}); "
                + divergence_advice(model, X))
        model.backward(grad)
        t2 = time.perf_counter()
        skip = strategy.before_update(model, model.step_) if strategy is not None else False
        t3 = time.perf_counter()
        if not skip:
            model.optimizer_.step(model.layers_)
        t4 = time.perf_counter()
        if strategy is not None:
            strategy.after_update(model, model.step_)
        t5 = time.perf_counter()
        seconds["forward"] += t1 - t0
        seconds["backward"] += t2 - t1
        seconds["update"] += t4 - t3
        seconds["evolution"] += (t3 - t2) + (t5 - t4)
        model.step_ += 1
        batch_correct = float(np.sum(np.argmax(logits, axis=0) == yb))
        loss_sum += loss * yb.size
        correct += batch_correct
        seen += yb.size
        call_hook(callbacks, "on_batch_end", model, epoch, batch,
              {"loss": loss, "accuracy": batch_correct / yb.size, "n_batches": n_batches})
        if model.stop_training_:
            break
    row = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen}
    row.update({f"seconds_{p}": seconds[p] for p in PHASES})
    return row
