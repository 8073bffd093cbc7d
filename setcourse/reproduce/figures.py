"""Figures of the pretrained long runs: what a class run cannot reach in 90 minutes."""
import numpy as np
from matplotlib.ticker import MaxNLocator
from scipy import stats

from ..analysis.input_connectivity import as_image
from ..plots.figure import new_figure


def connections_at(run, epoch):
    """Connections per input (after pruning) of ``run`` at the stored epoch nearest ``epoch``."""
    record = run["records"]["feature_selection"]
    stored = np.asarray(record["connections_epoch"])
    index = int(np.argmin(np.abs(stored - epoch)))
    return int(stored[index]), np.asarray(record["connections"][index])


def plot_converged_connectivity(result, label="SET", seed=0, epochs=(0, 30, 400)):
    """Connections per input pixel at ``epochs`` of one long run, on one colour scale."""
    run = next(r for r in result.of(label) if r["seed"] == seed)
    frames = [connections_at(run, epoch) for epoch in epochs]
    vmax = max(values.max() for _, values in frames)
    figure = new_figure(3.2 * len(frames) + 0.8, 3.8)
    axes = figure.subplots(1, len(frames))
    for ax, (epoch, values) in zip(np.atleast_1d(axes), frames):
        image = ax.imshow(as_image(values), cmap="viridis", vmin=0, vmax=vmax)
        ax.set(title=f"epoch {epoch}", xlabel="pixel column", ylabel="pixel row")
    figure.colorbar(image, ax=axes, label="connections (after pruning)", shrink=0.85)
    figure.suptitle(f"{label}, seed {seed}: input connections per pixel ({result.protocol.name})")
    return figure


def plot_hubs(result, label="SET", seed=0, layer=0):
    """In-degrees of a hidden-to-hidden layer at the start and after the long run, log-log,
    beside the Erdős–Rényi (binomial) expectation."""
    run = next(r for r in result.of(label) if r["seed"] == seed)
    degrees = run["records"]["degrees"]
    initial = np.asarray(degrees["initial"]["hidden_in"][layer])
    final = np.asarray(degrees["final"]["hidden_in"][layer])
    n_in = len(initial)  # hidden-to-hidden layers are square here
    p = initial.sum() / (n_in * len(initial))
    figure = new_figure(5.6, 3.6)
    ax = figure.subplots()
    for values, name, marker in ((initial, "epoch 0", "o"), (final, "after the run", "s")):
        counts = np.bincount(values)
        k = np.flatnonzero(counts)
        ax.loglog(k, counts[k] / counts.sum(), marker, ms=4, mfc="none", label=name)
    k = np.arange(1, max(final.max(), initial.max()) + 1)
    ax.loglog(k, stats.binom.pmf(k, n_in, p), "k-", lw=1, label="Erdős–Rényi expectation")
    ax.set(title=f"{label}, seed {seed}: in-degrees of hidden layer {layer + 2}",
           xlabel="in-degree k", ylabel="fraction of neurons", ylim=(0.5 / len(final), 1))
    ax.legend(fontsize="small")
    return figure


def plot_accuracy_curves(result):
    """Test accuracy per epoch, mean ± sd over the seeds, per model."""
    figure = new_figure(6, 3.6)
    ax = figure.subplots()
    for label in result.labels():
        epochs, mean, sd = result.curve(label)
        ax.plot(epochs, mean, label=f"{label} ({len(result.of(label))} seeds)")
        if not np.isnan(sd).all():
            ax.fill_between(epochs, mean - sd, mean + sd, alpha=0.25)
    ax.set(title=f"Test accuracy, {result.protocol.name}", xlabel="epoch",
           ylabel="test accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize="small")
    return figure
