"""SET-RBM on COIL20 beside the original (Mocanu et al. 2018, Implementation 3), and the AIS
test log-likelihood of SET, FixProb and dense RBMs of the same size.

    python benchmarks/rbm.py --data /path/to/COIL20.mat [--epochs 100] [--ll-epochs 100]
                             [--models set,fixprob,dense] [--ais-chains 100] [--ais-betas 14500]
                             [--ais-runs 1] [--skip-reconstruction] [--skip-ll]
                             [--original /path/to/set_rbm_sparse_data_structures.py]
                             [--original-epochs 10] [--json results.json]
    python benchmarks/rbm.py --synthetic            # tiny random data: a smoke run

The original's protocol: COIL20 (1,440 grey-level images, 1,024 pixels in [0, 1]), its random
two-thirds training split (``np.random.seed(0)``, one shuffle: reproduced exactly here), 200
hidden units, epsilon = 10, weights N(0, 1)/20, batch 10, learning rate 0.1, weight decay
2e-7 per step (``weight_decay=2e-6`` here, where decay is scaled by the learning rate), no
momentum, CD-1 with mean-field visible reconstructions, zeta = 0.3 after every epoch, the
last epoch only removes. Its metric is the test reconstruction MSE, measured each epoch before
the topology changes; its committed curves (``Results/set_rbm.txt``, ``rbm_fixprob.txt``)
are quoted below at the epochs we ran.

Part 2 (the paper's metric) trains the same three models on COIL20 binarised at 0.5 with
sampled visible units (a log-likelihood needs binary visible states), estimates log Z by AIS
from the base-rate model of the training marginals (Salakhutdinov & Murray 2008), and prints
the mean test and train log-likelihood with the AIS interval (log Z +/- 3 sd).

Where this implementation differs from the original, on purpose: exactly epsilon (n_v + n_h)
distinct connections (the original draws that many positions with replacement: ~11,860
distinct); the positive statistics use p(h | v) instead of a binary sample of it (Hinton's
practical guide: the same expectation, less noise); weight decay scaled by the learning rate
and not applied to the biases (the library's convention; at 2e-7 it is negligible either way);
float32 instead of float64; the training reconstruction error is the mean over each epoch's
batches (the original's running sum is never reset between epochs).

``--original`` runs the original script's ``SET_RBM`` class side by side (its Cython CD
kernel replaced by the same sums in numpy; nothing else changed) for ``--original-epochs``.
"""
import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import time
import types

import numpy as np

from setcourse.rbm import RBM

#: Test reconstruction MSE of the original, committed in dcmocanu/sparse-evolutionary-artificial-
#: neural-networks, SET-RBM-Sparse-Python-Data-Structures/Results/{set_rbm,rbm_fixprob}.txt
#: (second column, line = epoch).
ORIGINAL = {
    "set": {1: 0.056655, 10: 0.031978, 50: 0.022930, 100: 0.019492, 200: 0.016983,
            500: 0.014840, 1000: 0.013593},
    "fixprob": {1: 0.056655, 10: 0.032984, 50: 0.027990, 100: 0.027102, 200: 0.026620,
                500: 0.026630, 1000: 0.026633},
}
CHECKPOINTS = (1, 10, 50, 100, 200, 500, 1000)


def original_protocol(topology, epochs, seed, sample_visible=False, final_prune=True):
    """The original's hyper-parameters (see the module docstring) for ``topology``."""
    return RBM(n_hidden=200, topology=topology, epsilon=10, zeta=0.3, k=1, lr=0.1,
               momentum=0.0, weight_decay=2e-6, batch_size=10, epochs=epochs, init_std=0.05,
               sample_visible=sample_visible, final_prune=final_prune, seed=seed)


def load_coil20(args):
    """``(X_train, X_test)`` float32 in [0, 1], split as the original splits COIL20.

    ``--data``: the raw ``COIL20.mat`` (or its folder), pixels in the file's order, split here.
    Otherwise ``setcourse.data.load("coil20")``, which comes with that split (its images are
    turned upright: the same pixels in another order, which an RBM does not see).
    """
    if args.data:
        import scipy.io as sio
        path = args.data
        if os.path.isdir(path):
            path = os.path.join(path, "COIL20.mat")
        X = np.asarray(sio.loadmat(path)["X"], dtype=np.float32)
        X_train, X_test = original_split(X, args.seed)
    else:
        from setcourse.data import load
        data = load("coil20", preprocess=None, data_dir=args.data_dir)
        X_train, X_test = data.X_train, data.X_test
    for X in (X_train, X_test):
        if X.min() < 0 or X.max() > 1:
            raise SystemExit(f"COIL20 values must be in [0, 1]; got {X.min()} .. {X.max()}")
    return X_train, X_test


def original_split(X, seed=0):
    """The original's split: ``np.random.seed(seed)``, shuffle ``arange(n)``, first 2/3 train."""
    index = np.arange(X.shape[0])
    np.random.RandomState(seed).shuffle(index)
    cut = int(X.shape[0] * 2 / 3)
    return X[index[:cut]], X[index[cut:]]


def train_seconds(history):
    """Median seconds of one epoch's training (sampling + update + evolution; no evaluation)."""
    per_epoch = (np.asarray(history["seconds_sampling"]) + np.asarray(history["seconds_update"])
                 + np.asarray(history["seconds_evolution"]))
    return float(np.median(per_epoch)), float(np.median(history["seconds_epoch"]))


def reconstruction_part(X_train, X_test, models, epochs, seed, quote_original=True):
    print(f"\n== Part 1: test reconstruction MSE (the original's metric), {epochs} epochs, "
          f"{X_train.shape[0]} training / {X_test.shape[0]} test images ==")
    rows = {}
    for topology in models:
        model = original_protocol(topology, epochs, seed)
        start_degrees = model.build(X_train.shape[1]).hidden_degrees()
        model.set_params(warm_start=True).fit(X_train, validation_data=X_test)
        curve = model.history_["test_reconstruction_error"]
        train_s, epoch_s = train_seconds(model.history_)
        rows[topology] = {"curve": curve, "nnz": int(start_degrees.sum()),
                          "final_nnz": model.nnz_, "seconds_train": train_s,
                          "seconds_epoch": epoch_s,
                          "hidden_degrees_start": start_degrees.tolist(),
                          "hidden_degrees_end": model.hidden_degrees().tolist(),
                          "unconnected_pixels": int(np.sum(model.visible_degrees() == 0))}
    marks = [e for e in CHECKPOINTS if e <= epochs] + ([epochs] if epochs not in CHECKPOINTS
                                                       else [])
    print(f"{'model':8s} {'nnz':>7s} " + " ".join(f"{'ep ' + str(e):>16s}" for e in marks)
          + f" {'s/epoch train':>14s} {'s/epoch all':>12s}")
    for topology, row in rows.items():
        cells = []
        for e in marks:
            ours = row["curve"][e - 1]
            theirs = ORIGINAL.get(topology, {}).get(e) if quote_original else None
            cells.append(f"{ours:.5f}" + (f" ({theirs:.5f})" if theirs else " " * 10))
        print(f"{topology:8s} {row['nnz']:7d} " + " ".join(f"{c:>16s}" for c in cells)
              + f" {row['seconds_train']:14.3f} {row['seconds_epoch']:12.3f}")
    if quote_original:
        print("ours (original's committed value at that epoch); nnz at the start (the "
              "original: ~11,900 distinct of its 12,240 draws with replacement)")
    print("hidden-unit degrees, start -> end (after the final prune for set): mean, sd, max; "
          "pixels left without a connection")
    for topology, row in rows.items():
        a, b = (np.asarray(row[key]) for key in ("hidden_degrees_start", "hidden_degrees_end"))
        print(f"{topology:8s} {a.mean():7.1f} {a.std():6.1f} {a.max():5d} -> {b.mean():7.1f} "
              f"{b.std():6.1f} {b.max():5d}   unconnected pixels {row['unconnected_pixels']}")
    return rows


def log_likelihood_part(X_train, X_test, models, epochs, seed, n_chains, n_betas, ais_runs):
    B_train = (X_train > 0.5).astype(np.float32)
    B_test = (X_test > 0.5).astype(np.float32)
    print(f"\n== Part 2: AIS log-likelihood (nats per image), data binarised at 0.5, "
          f"{epochs} epochs, AIS with {n_chains} chains x {n_betas} betas ==")
    print("(the network as trained: no final prune; one row per AIS run, seeds 0, 1, ...; "
          "an open interval (inf) or a small ESS marks an estimate that cannot be trusted)")
    print(f"{'model':8s} {'nnz':>7s} {'test LL [interval]':>30s} {'train LL':>9s} "
          f"{'log Z':>9s} {'sd':>6s} {'ESS':>5s} {'test MSE':>9s} {'AIS s':>6s} {'s/epoch':>8s}")
    rows = {}
    for topology in models:
        model = original_protocol(topology, epochs, seed, sample_visible=True, final_prune=False)
        model.fit(B_train, validation_data=B_test)
        train_s, _ = train_seconds(model.history_)
        rows[topology] = []
        for run in range(ais_runs):
            start = time.perf_counter()
            ais = model.estimate_log_partition(B_train, n_chains=n_chains, betas=n_betas,
                                               seed=seed + run)
            ais_seconds = time.perf_counter() - start
            test, low, high = model.average_log_likelihood(B_test, ais)
            train = model.average_log_likelihood(B_train, ais)[0]
            row = {"test_ll": test, "test_ll_low": low, "test_ll_high": high,
                   "train_ll": train, "log_z": ais.log_z, "log_z_sd": ais.log_z_sd,
                   "ess": ais.effective_sample_size, "nnz": model.nnz_,
                   "test_mse": model.history_["test_reconstruction_error"][-1],
                   "ais_seconds": ais_seconds, "seconds_train": train_s}
            rows[topology].append(row)
            interval = f"{test:8.2f} [{low:.2f}, {high:.2f}]"
            print(f"{topology:8s} {model.nnz_:7d} {interval:>30s} {train:9.2f} "
                  f"{ais.log_z:9.2f} {ais.log_z_sd:6.3f} {ais.effective_sample_size:5.0f} "
                  f"{row['test_mse']:9.5f} {ais_seconds:6.1f} {train_s:8.3f}", flush=True)
    return rows


def _numpy_cd_kernel():
    """A stand-in for the original's Cython module: the same sums, vectorised."""
    module = types.ModuleType("sparseoperations")

    def contrastive_divergence_updates_Cython(wDecay, lr, DV, DH, MV, MH, rows, cols, out):
        n = DV.shape[0]
        positive = np.einsum("bk,bk->k", DV[:, rows], DH[:, cols]) / n
        negative = np.einsum("bk,bk->k", MV[:, rows], MH[:, cols]) / n
        out += lr * (positive - negative) - wDecay * out

    module.contrastive_divergence_updates_Cython = contrastive_divergence_updates_Cython
    return module


def original_part(path, X_train, X_test, epochs, seed):
    """Run the original ``SET_RBM`` (from ``path``) for ``epochs``; its test MSE and s/epoch."""
    sys.modules.setdefault("sparseoperations", _numpy_cd_kernel())
    spec = importlib.util.spec_from_file_location("original_set_rbm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    np.random.seed(seed)
    np.random.shuffle(np.arange(X_train.shape[0] + X_test.shape[0]))  # the split's draw
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        model = module.SET_RBM(X_train.shape[1], noHiddens=200, epsilon=10)
        nnz = model.W.getnnz()
        out = os.path.join(folder, "metrics.txt")
        start = time.perf_counter()
        model.fit(X_train.astype(np.float64), X_test.astype(np.float64), batch_size=10,
                  epochs=epochs, lengthMarkovChain=2, weight_decay=2e-7, learning_rate=0.1,
                  zeta=0.3, testing=True, save_filename=out)
        seconds = (time.perf_counter() - start) / epochs
        curve = np.loadtxt(out, ndmin=2)[:, 1].tolist()
    print(f"\n== The original SET_RBM run here ({epochs} epochs, numpy CD sums) ==")
    print(f"nnz {nnz}; test MSE per epoch: " + " ".join(f"{e:.5f}" for e in curve)
          + f"; {seconds:.2f} s/epoch (incl. its per-epoch test pass)")
    return {"curve": curve, "nnz": nnz, "seconds_epoch": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="COIL20.mat (or its folder)")
    parser.add_argument("--data-dir", help="data folder for setcourse.data.load('coil20')")
    parser.add_argument("--synthetic", action="store_true",
                        help="tiny random binary data instead of COIL20 (a smoke run)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--ll-epochs", type=int, default=None, help="default: --epochs")
    parser.add_argument("--models", default="set,fixprob,dense")
    parser.add_argument("--ais-chains", type=int, default=100)
    parser.add_argument("--ais-betas", type=int, default=14500)
    parser.add_argument("--ais-runs", type=int, default=1,
                        help="independent AIS estimates per model (their spread shows the error)")
    parser.add_argument("--skip-reconstruction", action="store_true")
    parser.add_argument("--skip-ll", action="store_true")
    parser.add_argument("--original", help="path of the original set_rbm_sparse_data_structures.py")
    parser.add_argument("--original-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.synthetic:
        rng = np.random.default_rng(args.seed)
        X_train, X_test = original_split((rng.random((96, 64)) < 0.3).astype(np.float32))
    else:
        X_train, X_test = load_coil20(args)
    results = {"epochs": args.epochs, "n_train": int(X_train.shape[0]),
               "n_test": int(X_test.shape[0])}
    if not args.skip_reconstruction:
        results["reconstruction"] = reconstruction_part(X_train, X_test, models, args.epochs,
                                                        args.seed, not args.synthetic)
    if not args.skip_ll:
        ll_epochs = args.ll_epochs or args.epochs
        results["ll_epochs"] = ll_epochs
        results["log_likelihood"] = log_likelihood_part(X_train, X_test, models, ll_epochs,
                                                        args.seed, args.ais_chains,
                                                        args.ais_betas, args.ais_runs)
    if args.original:
        results["original"] = original_part(args.original, X_train, X_test,
                                            args.original_epochs, args.seed)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return results


if __name__ == "__main__":
    main()
