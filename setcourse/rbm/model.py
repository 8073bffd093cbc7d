r"""The Bernoulli-Bernoulli restricted Boltzmann machine, dense, FixProb or SET (Mocanu et al. 2018).

.. math::
    E(v, h) = -b^\top v - c^\top h - v^\top W h, \qquad p(v, h) = e^{-E(v, h)} / Z

with :math:`W` of shape ``(n_visible, n_hidden)`` truly sparse for ``fixprob`` and ``set``
(Erdős–Rényi by ε, never a dense array) and evolved by SET after every epoch for ``set``.
Trained by CD-k or persistent CD with SGD, momentum and weight decay. The method names follow
:class:`sklearn.neural_network.BernoulliRBM`; data are batch-major ``(n_samples, n_visible)``
in [0, 1] at the interface and feature-major inside.

One concept (the RBM estimator: parameters, fit loop, inference, evaluation), hence its length.
"""
import math
import time
import warnings

import numpy as np

from .._validation import check_choice, check_in_range, check_positive_int
from ..evolution.set import set_evolve_layer, set_prune
from ..nn import kernels as nn_kernels
from ..nn.sparsity import erdos_renyi_density
from ..callbacks import History
from ..train import call_hook as _call, close_epoch
from . import persistence
from .ais import ais_log_partition, base_rate_biases
from .energy import free_energy, pseudo_log_likelihood
from .parallel import threads_for
from .sampling import (bernoulli, cd_gradient, gibbs_chain, hidden_probabilities,
                       phase_statistics, visible_probabilities)
from .validation import check_binary_data, check_unit_data
from .weights import DenseWeights, SparseWeights, warm_up

TOPOLOGIES = ("dense", "fixprob", "set")
#: Values of regrown connections: from the init distribution N(0, init_std^2), or zero.
REGROW_INITS = ("init", "zero")
#: Samples of the training set whose free energy is compared with the test set's each epoch.
MAX_MONITOR_SAMPLES = 1000

#: The timed phases of an RBM epoch (``seconds_<phase>`` in the history).
PHASES = ("sampling", "update", "evaluation", "evolution")


class RBM:
    r"""Bernoulli restricted Boltzmann machine with a dense, fixed sparse or SET topology.

    Parameters
    ----------
    n_hidden : int
        Number of hidden units.
    topology : {"dense", "fixprob", "set"}
        ``dense``: every visible-hidden pair connected (BLAS). ``fixprob``: an Erdős–Rényi
        sparse graph that never changes. ``set``: that graph evolved after every epoch but
        the last: the fraction ``zeta`` of the positive and of the negative weights closest
        to zero removed, as many connections regrown at random empty positions
        (:func:`setcourse.evolution.set.set_evolve_layer`, the MLP's own rule).
    epsilon : float > 0
        Erdős–Rényi parameter: :math:`p = \varepsilon (n_v + n_h) / (n_v n_h)`, i.e. about
        :math:`\varepsilon (n_v + n_h)` connections.
    zeta : float in [0, 1)
        SET's rewiring fraction.
    k : int >= 1
        Gibbs steps per update (CD-k, or PCD-k with ``persistent``).
    persistent : bool
        Persistent CD: the negative chains (``batch_size`` of them) continue from one update
        to the next instead of restarting at the data.
    lr, momentum, weight_decay : float
        SGD: :math:`u \leftarrow \mu u + \eta(\hat\nabla - \lambda w)`, :math:`w \leftarrow w + u`;
        weight decay on :math:`W` only (the library's convention,
        :class:`~setcourse.nn.optim.SGD`). The original SET-RBM subtracts :math:`\lambda' w`
        without the learning rate: its :math:`\lambda' = 2\cdot 10^{-7}` at
        :math:`\eta = 0.1` is ``weight_decay=2e-6`` here (the default).
    batch_size, epochs : int
    init_std : float > 0
        Weights start (and SET regrows them, ``regrow_init="init"``) from
        :math:`\mathcal N(0, \sigma^2)`, :math:`\sigma` = ``init_std`` (the original: 1/20).
    regrow_init : {"init", "zero"}
        Value of connections regrown by SET.
    sample_visible : bool
        Sample binary visible states in the Gibbs chains (a proper chain; needed for CD-k to
        approach the likelihood gradient as ``k`` grows), or keep :math:`p(v \mid h)`
        (mean-field; the original SET-RBM on grey-level COIL20).
    final_prune : bool
        After the last epoch of ``fit``, remove the ``zeta`` fractions without regrowing (the
        original: "to favour statistics on the connections"); ``set`` only.
    seed : int
        Seeds the topology, the weights, the batch order, the chains and the evolution.
    warm_start : bool
        When True, ``fit`` continues from the current state.

    Attributes
    ----------
    weights_ : SparseWeights or DenseWeights
        :math:`W^\top` hidden-major (``n_in`` = visible, ``n_out`` = hidden).
    intercept_visible_ : (n_visible,) float32
    intercept_hidden_ : (n_hidden,) float32
    n_features_in_ : int
    history_ : setcourse.callbacks.History
        Per epoch: ``epoch``, ``train_reconstruction_error`` (mean over the epoch's batches),
        ``test_reconstruction_error``, ``train_free_energy`` and ``test_free_energy`` (means
        over a fixed training subset the size of the test set and over the test set),
        ``free_energy_gap`` (test minus train: grows when the model overfits),
        ``nnz``, ``seconds_sampling``, ``seconds_update``, ``seconds_evolution``,
        ``seconds_evaluation``, ``seconds_epoch``, ``stopped``. Test entries are NaN without
        validation data; they are measured on the trained network before evolution.
    chain_ : (n_hidden, batch_size) float32 or None
        Hidden states of the persistent chains.
    rng_, sampling_rng_ : numpy.random.Generator
        Training randomness; randomness of ``gibbs``, ``reconstruct``, ``score_samples`` and
        the evaluation (so evaluating never changes the training trajectory).
    """

    def __init__(self, n_hidden=200, topology="set", epsilon=10.0, zeta=0.3, k=1,
                 persistent=False, lr=0.1, momentum=0.0, weight_decay=2e-6, batch_size=10,
                 epochs=10, init_std=0.05, regrow_init="init", sample_visible=True,
                 final_prune=False, seed=0, warm_start=False):
        self.n_hidden = n_hidden
        self.topology = topology
        self.epsilon = epsilon
        self.zeta = zeta
        self.k = k
        self.persistent = persistent
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.init_std = init_std
        self.regrow_init = regrow_init
        self.sample_visible = sample_visible
        self.final_prune = final_prune
        self.seed = seed
        self.warm_start = warm_start

    # -- parameters -------------------------------------------------------------------------
    def get_params(self, deep=True):
        """Constructor arguments (scikit-learn style)."""
        code = self.__init__.__code__
        return {name: getattr(self, name) for name in code.co_varnames[1:code.co_argcount]}

    def set_params(self, **params):
        known = self.get_params()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"unknown parameter {name!r}; known: {', '.join(known)}")
            setattr(self, name, value)
        return self

    def validate_params(self):
        """Check every hyper-parameter; raise ValueError naming the bad one, its value and range."""
        check_positive_int("n_hidden", self.n_hidden)
        check_choice("topology", self.topology, TOPOLOGIES)
        check_in_range("epsilon", self.epsilon, 0, None, low_open=True)
        check_in_range("zeta", self.zeta, 0, 1, high_open=True)
        check_positive_int("k", self.k)
        check_in_range("lr", self.lr, 0, None, low_open=True)
        check_in_range("momentum", self.momentum, 0, 1, high_open=True)
        check_in_range("weight_decay", self.weight_decay, 0, None)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("epochs", self.epochs)
        check_in_range("init_std", self.init_std, 0, None, low_open=True)
        check_choice("regrow_init", self.regrow_init, REGROW_INITS)
        for name in ("persistent", "sample_visible", "final_prune", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        check_positive_int("seed", self.seed, minimum=0)

    # -- construction -----------------------------------------------------------------------
    def build(self, n_visible):
        """Create weights, biases, generators and history for ``n_visible`` inputs; returns self."""
        self.validate_params()
        check_positive_int("n_visible", n_visible)
        self.n_features_in_ = int(n_visible)
        self.rng_ = np.random.default_rng(self.seed)
        self.sampling_rng_ = np.random.default_rng([self.seed, 1])
        self.weights_ = self._make_weights()
        self.intercept_visible_ = np.zeros(n_visible, dtype=np.float32)
        self.intercept_hidden_ = np.zeros(self.n_hidden, dtype=np.float32)
        self.visible_velocity_ = np.zeros(n_visible, dtype=np.float32)
        self.hidden_velocity_ = np.zeros(self.n_hidden, dtype=np.float32)
        self.chain_ = None
        self.step_ = 0
        self.epoch_ = 0
        self.history_ = History()
        warm_up()
        return self

    def _make_weights(self):
        n_v, n_h = self.n_features_in_, self.n_hidden
        if self.topology == "dense":
            return DenseWeights(n_v, n_h, self.rng_, self.init_std)
        density = erdos_renyi_density(self.epsilon, n_v, n_h)
        if density >= 1:
            warnings.warn(f"{self.topology} RBM {n_v} x {n_h}: Erdős–Rényi probability "
                          f"p = {density:.3g} >= 1 at epsilon={self.epsilon}, so the weights "
                          "are dense", stacklevel=3)
            return DenseWeights(n_v, n_h, self.rng_, self.init_std)
        return SparseWeights(n_v, n_h, density, self.rng_, self.init_std)

    @property
    def layers_(self):
        """``[weights_]``: what :mod:`setcourse.analysis` reads (degrees, memory)."""
        return [self.weights_]

    @property
    def nnz_(self):
        """Number of connections."""
        return int(self.weights_.nnz)

    def _check_fitted(self):
        if not hasattr(self, "weights_"):
            raise RuntimeError("this RBM is not fitted yet: call fit(X) first")

    # -- training ---------------------------------------------------------------------------
    def fit(self, X, y=None, validation_data=None, epochs=None, callbacks=()):
        """Train on ``X`` ``(n_samples, n_visible)`` with values in [0, 1]; returns ``self``.

        Parameters
        ----------
        X : (n_samples, n_visible) array in [0, 1]
        y : ignored (scikit-learn compatibility)
        validation_data : (n_test, n_visible) array in [0, 1], optional
            Evaluated after every epoch (reconstruction error, free-energy gap).
        epochs : int, optional
            Overrides ``self.epochs``.
        callbacks : sequence of setcourse.callbacks.Callback
            ``on_batch_end`` logs carry ``loss`` (= ``reconstruction_error``) and ``n_batches``.
        """
        epochs = self.epochs if epochs is None else epochs
        check_positive_int("epochs", epochs)
        self.validate_params()
        built = self.warm_start and hasattr(self, "weights_")
        X = np.ascontiguousarray(check_unit_data(X, self.n_features_in_ if built else None))
        if X.shape[0] == 0:
            raise ValueError("X must contain at least one sample; got 0")
        X_test = None
        if validation_data is not None:
            X_test = check_unit_data(validation_data, X.shape[1], "validation_data")
        if not built:
            self.build(X.shape[1])
        monitor = np.random.default_rng([self.seed, 2]).permutation(X.shape[0])
        size = X_test.shape[0] if X_test is not None else MAX_MONITOR_SAMPLES
        X_monitor = X[np.sort(monitor[:min(X.shape[0], size, MAX_MONITOR_SAMPLES)])]
        batch_size = min(self.batch_size, X.shape[0])
        self.stop_training_ = False
        work = self.weights_.nnz * batch_size
        with threads_for(work, self.weights_.sparse), np.errstate(over="ignore"):
            self._run(X, X_test, X_monitor, batch_size, epochs, callbacks)
        return self

    def partial_fit(self, X, y=None):
        """One CD update on ``X`` as a single mini-batch (scikit-learn's ``partial_fit``).

        Builds the model on the first call; no evolution, no history row (an epoch is
        :meth:`fit`'s unit). Returns ``self``.
        """
        if not hasattr(self, "weights_"):
            X = check_unit_data(X)
            self.build(X.shape[1])
        X = check_unit_data(X, self.n_features_in_)
        if X.shape[0] == 0:
            raise ValueError("X must contain at least one sample; got 0")
        with threads_for(self.weights_.nnz * X.shape[0], self.weights_.sparse):
            gradient, _ = self._cd_estimate(np.ascontiguousarray(X.T), self.rng_)
            self._apply(gradient)
        self.step_ += 1
        return self

    def _run(self, X, X_test, X_monitor, batch_size, epochs, callbacks):
        _call(callbacks, "on_train_begin", self)
        for epoch_in_run in range(epochs):
            epoch = self.epoch_
            last = epoch_in_run == epochs - 1
            _call(callbacks, "on_epoch_begin", self, epoch)
            row = self._train_epoch(X, batch_size, epoch, callbacks)
            stopped = self.stop_training_
            start = time.perf_counter()
            row.update(self._evaluate(X_monitor, X_test))
            row["seconds_evaluation"] = time.perf_counter() - start
            _call(callbacks, "before_evolution", self, epoch)
            start = time.perf_counter()
            self._evolve(last or stopped)
            row["seconds_evolution"] = time.perf_counter() - start
            if close_epoch(self, epoch, row, stopped, callbacks, PHASES):
                break
        _call(callbacks, "on_train_end", self)

    def _train_epoch(self, X, batch_size, epoch, callbacks):
        n, n_visible = X.shape
        order = self.rng_.permutation(n)
        n_batches = math.ceil(n / batch_size)
        seconds = {"sampling": 0.0, "update": 0.0}
        error_sum, seen = 0.0, 0
        for batch in range(n_batches):
            index = order[batch * batch_size:(batch + 1) * batch_size]
            xb = np.empty((n_visible, index.size), dtype=np.float32)
            nn_kernels.gather_feature_major(X, index, xb)  # the products work feature-major
            t0 = time.perf_counter()
            gradient, error = self._cd_estimate(xb, self.rng_)
            t1 = time.perf_counter()
            self._apply(gradient)
            seconds["sampling"] += t1 - t0
            seconds["update"] += time.perf_counter() - t1
            self.step_ += 1
            error_sum += error * index.size
            seen += index.size
            _call(callbacks, "on_batch_end", self, epoch, batch,
                  {"loss": error, "reconstruction_error": error, "n_batches": n_batches})
            if not math.isfinite(error):
                raise FloatingPointError(
                    f"training diverged: the reconstruction error became {error} in epoch "
                    f"{epoch + 1} (batch {batch + 1}); try a smaller learning rate than lr={self.lr}")
            if self.stop_training_:
                break
        return {"epoch": epoch, "train_reconstruction_error": error_sum / seen,
                "seconds_sampling": seconds["sampling"], "seconds_update": seconds["update"]}

    def _cd_estimate(self, v0, rng):
        """``((dW, db, dc), reconstruction error)`` of CD-k / PCD-k on the feature-major batch ``v0``."""
        weights, b, c = self.weights_, self.intercept_visible_, self.intercept_hidden_
        ph0 = hidden_probabilities(weights, c, v0)
        h0 = bernoulli(ph0, rng)
        if self.persistent:
            if self.chain_ is None:
                self.chain_ = h0  # the chains start at the first batch's hidden states
            chain = gibbs_chain(weights, b, c, self.chain_, self.k, rng, self.sample_visible)
            self.chain_ = chain.h
            reconstruction = visible_probabilities(weights, b, h0)
        else:
            chain = gibbs_chain(weights, b, c, h0, self.k, rng, self.sample_visible)
            reconstruction = chain.first_reconstruction
        positive = phase_statistics(weights, ph0, v0)
        negative = phase_statistics(weights, chain.h_probabilities, chain.v)
        error = float(np.mean(np.square(v0 - reconstruction, dtype=np.float32)))
        return cd_gradient(positive, negative), error

    def cd_estimate(self, X, random_state=None):
        r"""The CD-k (or PCD-k) estimate of the mean log-likelihood gradient on ``X``, no update.

        Returns ``(dW, db, dc)``: ``dW`` aligned with the weight values (flat ``(nnz,)`` in
        the order of ``weights_.data`` for sparse weights, ``(n_hidden, n_visible)`` for
        dense), ``db`` ``(n_visible,)``, ``dc`` ``(n_hidden,)``. ``random_state`` (a
        Generator) defaults to ``sampling_rng_``; persistent chains advance.
        """
        self._check_fitted()
        X = check_unit_data(X, self.n_features_in_)
        rng = self.sampling_rng_ if random_state is None else random_state
        return self._cd_estimate(np.ascontiguousarray(X.T), rng)[0]

    def _apply(self, gradient):
        """One SGD step along the CD estimate (ascent on the log-likelihood)."""
        d_w, d_b, d_c = gradient
        lr, mu = np.float32(self.lr), np.float32(self.momentum)
        weights = self.weights_
        # The optimiser kernel descends: its gradient is minus the log-likelihood gradient.
        nn_kernels.sgd_momentum_update(weights.weight_array().reshape(-1), -d_w.reshape(-1),
                                       weights.weight_velocity.reshape(-1), lr, mu,
                                       np.float32(self.weight_decay))
        for value, grad, velocity in ((self.intercept_visible_, d_b, self.visible_velocity_),
                                      (self.intercept_hidden_, d_c, self.hidden_velocity_)):
            nn_kernels.sgd_momentum_update(value, -grad, velocity, lr, mu, np.float32(0))

    def _evolve(self, last):
        weights = self.weights_
        if self.topology != "set" or not weights.sparse:
            return
        if not last:
            set_evolve_layer(weights, self.zeta, self.rng_, self.regrow_init)
        elif self.final_prune:
            keep = set_prune(weights.data, self.zeta)
            weights.replace_connections(keep, np.zeros(0, dtype=np.int64),
                                        np.zeros(0, dtype=np.float32))

    def _evaluate(self, X_monitor, X_test):
        nan = float("nan")
        train_f = float(np.mean(self.free_energy(X_monitor)))
        row = {"test_reconstruction_error": nan, "train_free_energy": train_f,
               "test_free_energy": nan, "free_energy_gap": nan}
        if X_test is not None and X_test.shape[0]:
            test_f = float(np.mean(self.free_energy(X_test)))
            row.update(test_reconstruction_error=self.reconstruction_error(X_test),
                       test_free_energy=test_f, free_energy_gap=test_f - train_f)
        return row

    # -- inference --------------------------------------------------------------------------
    def _feature_major(self, X, binary=False):
        self._check_fitted()
        check = check_binary_data if binary else check_unit_data
        return np.ascontiguousarray(check(X, self.n_features_in_).T)

    def transform(self, X):
        """Hidden probabilities :math:`p(h = 1 \\mid v)`, ``(n_samples, n_hidden)`` float32."""
        v = self._feature_major(X)
        return np.ascontiguousarray(
            hidden_probabilities(self.weights_, self.intercept_hidden_, v).T)

    def gibbs(self, v):
        """One Gibbs step :math:`v \\to h \\to v'` with binary samples; returns ``v'`` ``(n, n_visible)``."""
        x = self._feature_major(v)
        rng = self.sampling_rng_
        h = bernoulli(hidden_probabilities(self.weights_, self.intercept_hidden_, x), rng)
        pv = visible_probabilities(self.weights_, self.intercept_visible_, h)
        return np.ascontiguousarray(bernoulli(pv, rng).T)

    def reconstruct(self, X, sample_hidden=True):
        r"""Reconstructions :math:`p(v = 1 \mid h)`, :math:`h \sim p(h \mid X)` (or
        :math:`h = p(h \mid X)` with ``sample_hidden=False``), ``(n_samples, n_visible)``."""
        v = self._feature_major(X)
        h = hidden_probabilities(self.weights_, self.intercept_hidden_, v)
        if sample_hidden:
            h = bernoulli(h, self.sampling_rng_)
        return np.ascontiguousarray(visible_probabilities(self.weights_,
                                                          self.intercept_visible_, h).T)

    def reconstruction_error(self, X, sample_hidden=True):
        r"""Mean squared error :math:`\overline{(x - \hat x)^2}` of :meth:`reconstruct`
        (the original SET-RBM's metric)."""
        X = check_unit_data(X, getattr(self, "n_features_in_", None))
        return float(np.mean(np.square(X - self.reconstruct(X, sample_hidden), dtype=np.float64)))

    def free_energy(self, X):
        """:math:`F(v)` of each sample, float64 ``(n_samples,)``: :math:`\\log p(v) = -F(v) - \\log Z`."""
        self._check_fitted()
        X = check_unit_data(X, self.n_features_in_)
        return free_energy(self.weights_, self.intercept_visible_, self.intercept_hidden_, X)

    def score_samples(self, X):
        """Pseudo-log-likelihood of each sample (one random unit flipped, as scikit-learn)."""
        self._check_fitted()
        X = check_unit_data(X, self.n_features_in_)
        return pseudo_log_likelihood(self.weights_, self.intercept_visible_,
                                     self.intercept_hidden_, X, self.sampling_rng_)

    def estimate_log_partition(self, base_data=None, n_chains=100, betas=14500, seed=0):
        """AIS estimate of :math:`\\log Z` (:func:`setcourse.rbm.ais.ais_log_partition`).

        ``base_data`` (the training data) gives the base-rate model's visible biases; the
        uniform distribution is the base without it. Returns an
        :class:`~setcourse.rbm.ais.AISResult`.
        """
        self._check_fitted()
        check_positive_int("n_chains", n_chains)
        base = None
        if base_data is not None:
            base = base_rate_biases(check_unit_data(base_data, self.n_features_in_, "base_data"))
        with threads_for(self.weights_.nnz * n_chains, self.weights_.sparse):
            return ais_log_partition(self.weights_, self.intercept_visible_,
                                     self.intercept_hidden_, base, n_chains, betas,
                                     np.random.default_rng(seed))

    def log_likelihood(self, X, log_z):
        """:math:`\\log p(v) = -F(v) - \\log Z` of each binary sample, float64.

        ``log_z`` is a number or an :class:`~setcourse.rbm.ais.AISResult` (its ``log_z``).
        """
        log_z = getattr(log_z, "log_z", log_z)
        check_in_range("log_z", log_z)
        v = self._feature_major(X, binary=True)
        return -free_energy(self.weights_, self.intercept_visible_, self.intercept_hidden_,
                            np.ascontiguousarray(v.T)) - log_z

    def average_log_likelihood(self, X, ais):
        """``(mean, low, high)``: the mean test log-likelihood with the AIS interval of log Z.

        ``low``/``high`` use ``ais.log_z_high``/``ais.log_z_low`` (a larger Z, a smaller p).
        """
        mean_neg_f = float(np.mean(self.log_likelihood(X, 0.0)))
        return mean_neg_f - ais.log_z, mean_neg_f - ais.log_z_high, mean_neg_f - ais.log_z_low

    # -- introspection ----------------------------------------------------------------------
    def weight_matrix(self):
        """Weights as a scipy CSR matrix ``(n_visible, n_hidden)`` (a copy)."""
        self._check_fitted()
        return self.weights_.to_scipy()

    def hidden_degrees(self):
        """Connections of each hidden unit, ``(n_hidden,)``."""
        self._check_fitted()
        return np.asarray(self.weights_.hidden_degrees(), dtype=np.int64)

    def visible_degrees(self):
        """Connections of each visible unit, ``(n_visible,)``."""
        self._check_fitted()
        return np.asarray(self.weights_.visible_degrees(), dtype=np.int64)

    def parameter_bytes(self):
        """Bytes of weights, sparse indices and biases (no optimiser state)."""
        self._check_fitted()
        w = self.weights_
        arrays = (w.data, w.indices, w.indptr) if w.sparse else (w.weights_t,)
        return int(sum(a.nbytes for a in arrays) + self.intercept_visible_.nbytes
                   + self.intercept_hidden_.nbytes)

    def dense_parameter_bytes(self):
        """Bytes the dense RBM of the same shape would hold (float32)."""
        n_v, n_h = self.n_features_in_, self.n_hidden
        return 4 * (n_v * n_h + n_v + n_h)

    def __repr__(self):
        shown = ("n_hidden", "topology", "epsilon", "zeta", "k", "persistent", "lr")
        return "RBM(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in shown) + ")"

    # -- persistence ------------------------------------------------------------------------
    def save(self, path):
        """Write the model to ``path`` (.npz, no pickles, atomic); returns ``path``."""
        self._check_fitted()
        return persistence.save(self, path)

    @classmethod
    def load(cls, path):
        """Rebuild a model written by :meth:`save`, validated; ``warm_start`` continues training."""
        return persistence.load(cls, path)
