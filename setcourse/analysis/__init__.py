"""Topology analysis of sparse networks, one measure per module.

- :mod:`~setcourse.analysis.pattern`: a layer's connections as a 0/1 scipy matrix ``(n_in, n_out)``.
- :mod:`~setcourse.analysis.degrees`: in/out-degrees, degree distributions, the Erdős–Rényi expectation.
- :mod:`~setcourse.analysis.heavy_tail`: discrete power-law fit and likelihood-ratio test.
- :mod:`~setcourse.analysis.input_connectivity`: connections per input feature, as an image.
- :mod:`~setcourse.analysis.nnstd`: the Neural Network Sparse Topology Distance (Liu et al. 2020).
- :mod:`~setcourse.analysis.over_parameterisation`: the in-time over-parameterisation rate.
- :mod:`~setcourse.analysis.memory`: parameter bytes of an Erdős–Rényi MLP before it is built.
- :mod:`~setcourse.analysis.feature_selection`: input connections vs pixel variance, per epoch.

Training callbacks record over a run (``InitialDegrees``, ``InputConnectivity``, ...).
Every measure accepts engine layers (sparse or dense), whole models (``model.layers_``) or plain
scipy.sparse matrices / numpy arrays of shape ``(n_in, n_out)``.
"""
