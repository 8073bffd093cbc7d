"""Run a protocol on the sweep runner and report ours beside the original.

::

    python -m setcourse reproduce fashion-mnist-set            # 3 models x 5 seeds x 400 epochs
    python -m setcourse reproduce fashion-mnist-set --seeds 2 --epochs 30 --out runs/quick

Every run is a task of :func:`setcourse.sweep.run_sweep` (a LocalCluster by default, any Dask
cluster by address); a rerun resumes, skipping the finished runs.
"""
import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..sweep.aggregate import mean_sd
from ..sweep.grid import run_id
from ..sweep.runner import run_sweep
from ..sweep.store import read_history, read_record, read_summary
from .protocols import protocol as get_protocol

DEFAULT_OUT = "reproduce-runs"


def reproduce(name="fashion-mnist-set", out_dir=None, seeds=5, epochs=None, models=None,
              **sweep_options):
    """Run ``seeds`` seeds of every model of protocol ``name``; return :class:`Reproduction`.

    ``epochs`` shortens the protocol (a quick look; the original's numbers are for the full
    length). ``sweep_options`` go to :func:`~setcourse.sweep.run_sweep` (``n_workers``,
    ``scheduler_address``, ``progress``, ...).
    """
    proto = get_protocol(name)
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive number of seeds; got {seeds}")
        seeds = range(seeds)
    out_dir = Path(out_dir or Path(DEFAULT_OUT) / name)
    specs = proto.specs(seeds, epochs, models)
    run_sweep(specs, out_dir, **sweep_options)
    return Reproduction.from_folder(proto, out_dir, specs)


class Reproduction:
    """Finished runs of a protocol: per model, each seed's history, summary and records."""

    def __init__(self, protocol, runs):
        self.protocol = protocol
        self.runs = runs  # list of dicts: label, seed, spec, summary, history, records

    @classmethod
    def from_folder(cls, protocol, out_dir, specs):
        runs = []
        for spec in specs:
            key = run_id(spec)
            summary = read_summary(out_dir, key)
            if summary is None or summary.get("status") != "ok":
                continue
            records = {}
            for entry in spec.get("recorders", []):
                recorder = entry if isinstance(entry, str) else entry["name"]
                try:
                    records[recorder.rsplit(":", 1)[-1].lower()] = read_record(out_dir, key,
                                                                               recorder)
                except (OSError, ValueError):
                    pass
            runs.append({"label": protocol.label_of(spec), "seed": spec["seed"], "spec": spec,
                         "run_id": key, "summary": summary,
                         "history": read_history(out_dir, key), "records": records})
        return cls(protocol, runs)

    def labels(self):
        return [label for label in self.protocol.models if self.of(label)]

    def of(self, label):
        return sorted((run for run in self.runs if run["label"] == label),
                      key=lambda run: run["seed"])

    def final_accuracies(self, label):
        return [run["history"]["test_accuracy"][-1] for run in self.of(label)]

    def curve(self, label, key="test_accuracy"):
        """``(epochs, mean, sd)`` of history ``key`` over the seeds (common length only)."""
        values = [run["history"][key] for run in self.of(label)]
        length = min(len(v) for v in values)
        stacked = np.array([v[:length] for v in values], dtype=float)
        sd = stacked.std(axis=0, ddof=1) if len(values) > 1 else np.full(length, np.nan)
        return np.arange(1, length + 1), stacked.mean(axis=0), sd

    def feature_selection(self, label="SET"):
        """Per epoch (0 = start): mean ± sd over seeds of r, least- and most-varying means."""
        records = [run["records"].get("feature_selection") for run in self.of(label)]
        records = [r for r in records if r]
        if not records:
            return None
        length = min(len(r["r"]) for r in records)
        out = {"epoch": records[0]["epoch"][:length]}
        for key in ("r", "least_varying", "most_varying"):
            stacked = np.array([r[key][:length] for r in records], dtype=float)
            out[key] = stacked.mean(axis=0)
            out[key + "_sd"] = (stacked.std(axis=0, ddof=1) if len(records) > 1
                                else np.full(length, np.nan))
        return out

    def table(self):
        """Ours beside the original: final test accuracy, s/epoch, peak memory per model."""
        lines = [f"{self.protocol.description}",
                 f"{'model':8s} {'ours: final test accuracy':36s} {'original (5 seeds)':20s} "
                 f"{'ours, per seed':34s} {'s/epoch':>8s} {'peak RSS':>9s}"]
        for label in self.labels():
            ours = self.final_accuracies(label)
            mean, sd = mean_sd(ours)
            o_mean, o_sd = mean_sd(self.protocol.original.get(label, []))
            epochs = {len(run["history"]["test_accuracy"]) for run in self.of(label)}
            seconds = [run["summary"].get("seconds_per_epoch_median") or
                       run["summary"].get("seconds_per_epoch") for run in self.of(label)]
            rss = [run["summary"].get("peak_rss_mb") for run in self.of(label)]
            lines.append(
                f"{label:8s} " + f"{_pm(mean, sd)} ({len(ours)} seeds, {_join(epochs)} ep)".ljust(36)
                + f" {_pm(o_mean, o_sd):20s} {' '.join(f'{a:.3f}' for a in ours):34s} "
                f"{_median(seconds):8.2f} " + ("      -" if math.isnan(_median(rss))
                                               else f"{_median(rss):7.0f} MB"))
        selection = self.feature_selection("SET")
        if selection is not None:
            original = self.protocol.original_feature_selection
            lines.append("")
            lines.append("SET as feature selection: r of connections per input (after pruning) "
                         "with pixel variance")
            for epoch, r_original in original.get("r", {}).items():
                index = _epoch_index(selection["epoch"], epoch)
                if index is not None:
                    lines.append(f"  epoch {epoch:>3}: ours "
                                 f"{_pm(selection['r'][index], selection['r_sd'][index], 3, '+')}"
                                 f"   original {r_original:+.3f}")
            lines.append(f"  10 % least- vs most-varying pixels at the end: ours "
                         f"{selection['least_varying'][-1]:.1f} vs {selection['most_varying'][-1]:.1f}"
                         f" connections, original {original.get('least_varying', math.nan):.1f}"
                         f" vs {original.get('most_varying', math.nan):.1f}")
        return "\n".join(lines)

    def figure(self, path=None):
        """Test accuracy vs epoch (mean ± sd band per model) and SET's r vs epoch."""
        from ..plots.figure import new_figure
        figure = new_figure(10, 3.6)
        left, right = figure.subplots(1, 2)
        for label in self.labels():
            epochs, mean, sd = self.curve(label)
            left.plot(epochs, mean, label=f"{label} ({len(self.of(label))} seeds)")
            if not np.isnan(sd).all():
                left.fill_between(epochs, mean - sd, mean + sd, alpha=0.25)
        for label, finals in self.protocol.original.items():
            if label in self.labels():
                left.axhline(np.mean(finals), ls=":", lw=1, color="grey")
        left.set(title="Test accuracy (dotted: the original's final means)", xlabel="epoch",
                 ylabel="test accuracy")
        left.legend(fontsize="small")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        selection = self.feature_selection("SET")
        if selection is not None:
            epochs = np.asarray(selection["epoch"])
            right.plot(epochs, selection["r"], label="SET, ours")
            if not np.isnan(selection["r_sd"]).all():
                right.fill_between(epochs, selection["r"] - selection["r_sd"],
                                   selection["r"] + selection["r_sd"], alpha=0.25)
            points = self.protocol.original_feature_selection.get("r", {})
            right.plot(list(points), list(points.values()), "o", label="original (seed 0)")
            right.legend(fontsize="small")
        right.set(title="Input connections vs pixel variance", xlabel="epoch",
                  ylabel="correlation r")
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        if path is not None:
            figure.savefig(path, dpi=100)
        return figure


def _pm(mean, sd, digits=4, sign=""):
    if math.isnan(mean):
        return "-"
    return f"{mean:{sign}.{digits}f}" + ("" if math.isnan(sd) else f" ± {sd:.{digits}f}")


def _join(values):
    return "/".join(str(v) for v in sorted(values))


def _median(values):
    values = sorted(v for v in values if isinstance(v, (int, float)))
    return values[len(values) // 2] if values else math.nan


def _epoch_index(epochs, epoch):
    epochs = list(epochs)
    if epoch in epochs:
        return epochs.index(epoch)
    return None
