"""SET-RBM: restricted Boltzmann machines on the truly sparse engine (Mocanu et al. 2018).

``RBM`` is the estimator (dense, FixProb or SET topology; CD-k and persistent CD);
``ais_log_partition`` estimates log Z by annealed importance sampling, and ``exact``
enumerates tiny models (the tests' oracle). One concept per module: ``weights`` (the three
products), ``sampling`` (Gibbs chains, CD statistics), ``energy`` (free energy,
pseudo-likelihood), ``ais``, ``exact``, ``persistence``, ``kernels``.
"""
from .ais import AISResult, ais_log_partition, base_rate_biases, default_betas
from .model import RBM, TOPOLOGIES

__all__ = ["AISResult", "RBM", "TOPOLOGIES", "ais_log_partition", "base_rate_biases",
           "default_betas"]
