"""How quickly the SET dashboard answers: ``python -m setcourse.course.timing [--fast]``.

Builds the dashboard of notebook 02 with its class settings, trains once to compile the
kernels, then presses Train (a background run, as in the browser) and prints

- the time from Train to the first plots (the initial topology, or epoch 1 if it overtook them
  while the panels were laid out), to the first look (test accuracy part-way through epoch 1,
  when the epoch is longer than its delay) and to the first epoch's plots;
- the median time of one redraw (all panels of one epoch, in the drawing thread);
- the training time per epoch the status line reports (drawing excluded).

``--fast`` uses the fast mode's sizes (2,000 images, 256-256); without it 10,000 images and
784-1000-1000-1000-10. Without Fashion-MNIST the bundled digits stand in (and say so).
"""
import argparse
import time

import numpy as np

from ..widgets.set_dashboard import class_dashboard
from .session import FAST_VARIABLE, setup


def measure(fast=False, epochs=4, runs=2):
    """Timings (seconds) of ``runs`` background runs after a warm-up; a dict of lists."""
    import os
    if fast:
        os.environ[FAST_VARIABLE] = "1"
    _, data = setup("fashion_mnist", n_train=10000, n_test=5000, show=True)
    board = class_dashboard(data, fast, epochs=epochs)  # notebook 02's dashboard
    started = time.perf_counter()
    board.train(background=False)  # compiles the kernels (cached on disk after the first time)
    warm_up = time.perf_counter() - started
    render = board._drawer.render
    shown = []

    def timed(snapshot):
        render(snapshot)
        if snapshot is not None:  # the first look counts as epoch 0.5: part of epoch 1
            shown.append((0.5 if "first_look" in snapshot else snapshot["epoch"],
                          time.perf_counter()))

    board._drawer.render = timed
    result = {"warm_up_s": warm_up, "initial_plots_s": [], "first_look_s": [],
              "first_look_images": [], "first_epoch_plots_s": [],
              "redraw_s": [], "training_s_per_epoch": []}
    for _ in range(runs):
        shown.clear()
        board._drawer.seconds_.clear()
        clicked = time.perf_counter()
        board.train_button.click()
        board.wait()
        epochs_shown = dict(shown)
        # The first plots drawn: the initial topology, unless epoch 1 overtook it.
        result["initial_plots_s"].append(min(t for _, t in shown) - clicked)
        look = board.first_look_
        result["first_look_s"].append(epochs_shown[0.5] - clicked if 0.5 in epochs_shown
                                      else np.nan)
        result["first_look_images"].append(look["seen"] if look else 0)
        first = min((e for e in epochs_shown if e >= 1), default=None)  # a whole epoch
        result["first_epoch_plots_s"].append(epochs_shown[first] - clicked if first else np.nan)
        result["redraw_s"].extend(board._drawer.seconds_[1:])  # [0] lays out the new run
        result["training_s_per_epoch"].append(float(np.mean(board.model_.history_["seconds_epoch"])))
        result.setdefault("test_accuracy", []).append(board.model_.history_["test_accuracy"][-1])
        result.setdefault("r", []).append(board.feature_selection_[-1].r)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the fast mode's sizes")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    r = measure(args.fast, args.epochs, args.runs)
    print(f"warm-up run (incl. kernel compilation if not cached): {r['warm_up_s']:.1f} s")
    if np.isfinite(r["first_look_s"]).any():
        print(f"Train -> first look (test accuracy after {int(np.median(r['first_look_images'])):,} "
              f"images of epoch 1): {np.nanmedian(r['first_look_s']):.2f} s")
    else:
        print("no first look: the first epoch took less than its delay")
    print(f"Train -> first plots: {np.nanmedian(r['initial_plots_s']):.2f} s; "
          f"-> first epoch's plots: {np.nanmedian(r['first_epoch_plots_s']):.2f} s (median of "
          f"{args.runs} runs)")
    print(f"one redraw (all panels): median {np.median(r['redraw_s']):.3f} s, "
          f"max {np.max(r['redraw_s']):.3f} s over {len(r['redraw_s'])}")
    print(f"training: {np.median(r['training_s_per_epoch']):.2f} s/epoch; after {args.epochs} epochs test "
          f"accuracy {100 * r['test_accuracy'][-1]:.1f} %, r = {r['r'][-1]:+.2f}")


if __name__ == "__main__":
    main()
