"""The neural-network engine: layers, kernels, activations, losses, optimiser and the layer stack.

It knows no evolution rule, training loop or estimator (those import it: ``evolution``,
``train``, ``model``).
"""
