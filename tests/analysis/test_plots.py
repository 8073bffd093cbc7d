"""Every plot function runs headless (Agg) on a tiny model; every axis is titled and labelled."""
import io

import numpy as np
import pytest
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from PIL import Image

from setcourse import plots
from setcourse.monitor import Monitor
from setcourse.nn.layers import SparseLayer
from setcourse import MLP
from setcourse.analysis.input_connectivity import InputConnectivity


def colorbar_axes(fig):
    return {ax for ax in fig.axes if isinstance(getattr(ax, "_colorbar", None), Colorbar)}


def check_figure(fig):
    """A title (figure or every panel), labelled x and y axes, and it renders to PNG."""
    assert isinstance(fig, Figure)
    bars = colorbar_axes(fig)
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    panels = [ax for ax in fig.axes if ax not in bars]
    assert panels
    assert suptitle or all(ax.get_title() for ax in panels)
    for ax in panels:
        assert ax.get_xlabel().strip(), f"panel {ax.get_title()!r} has no x label"
        assert ax.get_ylabel().strip(), f"panel {ax.get_title()!r} has no y label"
    for ax in bars:
        assert (ax.get_ylabel() or ax.get_xlabel()).strip(), "colour bar without a label"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.tell() > 1000


def test_learning_curves(digits, trained):
    X, y, X_test, y_test = digits
    model, _, _ = trained
    seeds = [MLP(hidden=(10,), epsilon=3, epochs=2, seed=s).fit(X[:300], y[:300],
                                                                validation_data=(X_test, y_test))
             for s in range(2)]
    fig = plots.plot_learning_curves({"set (20, 20)": [model.history_],
                                      "set (10,)": [m.history_ for m in seeds]},
                                     metrics=("test_accuracy", "train_loss", "seconds_epoch", "nnz"))
    check_figure(fig)
    assert "(%)" in fig.axes[0].get_ylabel() and "(s)" in fig.axes[2].get_ylabel()
    # A std band is drawn for the two-seed model only.
    assert len(fig.axes[0].collections) == 1
    check_figure(plots.plot_learning_curves(model.history_))
    with pytest.raises(ValueError, match="metric 'nope'"):
        plots.plot_learning_curves(model.history_, metrics="nope")
    with pytest.raises(ValueError, match="runs must map"):
        plots.plot_learning_curves(42)


def test_degree_distribution(trained):
    model, _, _ = trained
    check_figure(plots.plot_degree_distribution(model.layers_[1]))
    big = SparseLayer(1000, 800, density=0.03, rng=np.random.default_rng(0))
    fig = plots.plot_degree_distribution([big, big.to_scipy()], direction="out",
                                         labels=["engine layer", "scipy matrix"], fit=True)
    check_figure(fig)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert any("Erdős–Rényi" in t.get_text() for t in ax.get_legend().get_texts())
    assert any("power law" in t.get_text() for t in ax.get_legend().get_texts())
    with pytest.raises(ValueError, match="labels"):
        plots.plot_degree_distribution([big], labels=["a", "b"])


def test_input_connectivity(digits, trained):
    X, _, _, _ = digits
    model, recorder, _ = trained
    check_figure(plots.plot_input_connectivity(recorder, sample=X[0]))
    fig = plots.plot_input_connectivity(model, image_shape=(8, 8), vmax=50)
    check_figure(fig)
    assert fig.axes[0].images[0].get_clim() == (0, 50)
    rng = np.random.default_rng(0)
    cifar_like = rng.integers(0, 5, size=3072)
    fig = plots.plot_input_connectivity(cifar_like, sample=rng.random(3072))
    check_figure(fig)
    assert "colour channels" in fig.axes[-1].get_ylabel()
    check_figure(plots.plot_input_connectivity(rng.integers(0, 5, size=500),
                                               sample=rng.random(500)))


def test_input_connectivity_animation(tmp_path, trained):
    _, recorder, _ = trained
    animation = plots.input_connectivity_animation(recorder)
    check_figure(animation._fig)
    path = plots.save_gif(animation, tmp_path / "connectivity.gif")
    assert path.stat().st_size < 3 * 2**20
    with Image.open(path) as gif:
        assert gif.n_frames == 4
    html = plots.animation_html(animation)
    assert "<script" in html and "img" in html
    frames = np.random.default_rng(0).integers(0, 9, size=(120, 784))
    thinned = plots.input_connectivity_animation(frames, max_frames=6)
    gif_path = plots.save_gif(thinned, tmp_path / "thin.gif", fps=5)
    with Image.open(gif_path) as gif:
        assert gif.n_frames == 6
    # Random 28x28 frames are the worst case for GIF compression: still ~30 kB per frame.
    assert gif_path.stat().st_size < 6 * 50_000
    assert not list(tmp_path.glob("tmp*"))
    one_d = plots.input_connectivity_animation(np.ones((2, 500)))
    assert "<script" in plots.animation_html(one_d)
    with pytest.raises(ValueError, match="frames must be"):
        plots.input_connectivity_animation(np.ones(5))


def test_monitor_plot(digits):
    X, y, _, _ = digits
    results = []
    for label in ("a", "b"):
        monitor = Monitor(interval=0.01, uss_interval=0.02, label=label)
        with monitor:
            MLP(hidden=(10,), epsilon=3, epochs=1).fit(X[:100], y[:100], callbacks=[monitor])
        results.append(monitor.result())
    check_figure(plots.plot_monitor(results))
    check_figure(plots.plot_monitor(results[0]))  # one result; the monitor itself draws nothing
    assert "(MiB)" in plots.plot_monitor(results[0]).axes[1].get_ylabel()


def test_nnstd_heatmap(digits):
    X, y, _, _ = digits
    nets = [MLP(hidden=(10,), epsilon=3, epochs=1, seed=s).fit(X[:100], y[:100]) for s in range(3)]
    fig = plots.plot_nnstd(nets, labels=["seed 0", "seed 1", "seed 2"])
    check_figure(fig)
    check_figure(plots.plot_nnstd(np.array([[0.0, 0.4], [0.4, 0.0]])))
    with pytest.raises(ValueError, match="labels"):
        plots.plot_nnstd(np.zeros((2, 2)), labels=["one"])


def test_parameters(digits, trained):
    X, y, _, _ = digits
    model, _, _ = trained
    dense = MLP(hidden=(20, 20), topology="dense", epochs=1).fit(X[:100], y[:100])
    fig = plots.plot_parameters([model, dense])
    check_figure(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ratio = (64 * 20 + 20 * 20 + 20 * 10 + 50) / (sum(model.nnz_) + 50)
    assert ticks == [f"set 64-20-20-10\n({ratio:.1f}x smaller)", "dense 64-20-20-10\n(1.0x smaller)"]
    with pytest.raises(ValueError, match="labels"):
        plots.plot_parameters([model], labels=["a", "b"])


def test_results_table_has_one_aligned_line_per_model(digits):
    X, y, X_test, y_test = digits
    models = {}
    for topology in ("dense", "set"):
        models[topology] = MLP(hidden=(20,), topology=topology, epsilon=3, epochs=1, seed=0).fit(
            X[:200], y[:200], validation_data=(X_test, y_test))
    rows = plots.results_rows(models, baseline="dense")
    assert [row["name"] for row in rows] == ["dense", "set"]
    assert rows[0]["of_baseline"] == 1.0 > rows[1]["of_baseline"]
    assert rows[1]["connections"] == sum(models["set"].nnz_)
    assert rows[1]["parameter_bytes"] == models["set"].parameter_bytes()
    lines = plots.results_table(models, baseline="dense").splitlines()
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1
    assert "of dense" in lines[0] and "peak RSS" not in lines[0]
    # Headers apart, and the chart's counts and units: parameters = weights + biases, MiB.
    assert "  connections  " in lines[0] and "param. MiB" in lines[0]
    assert rows[1]["parameters"] == sum(l.nnz + l.n_out for l in models["set"].layers_)
    assert f"{rows[1]['parameters']:,}" in lines[2]
    with pytest.raises(ValueError, match="baseline"):
        plots.results_rows(models, baseline="rigl")


def test_learning_curves_tick_whole_epochs():
    history = {"epoch": [0, 1, 2], "test_accuracy": [0.5, 0.6, 0.7], "train_loss": [1.0, 0.8, 0.7]}
    fig = plots.plot_learning_curves({"run": history})
    for ax in fig.axes:
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
