"""The training set split into one shard per worker."""
import numpy as np


def shard_indices(n_samples, n_shards, rng):
    """Disjoint index arrays covering ``0..n_samples-1``, sizes differing by at most one.

    The order is shuffled first, so a shard is a random sample of the data (the original
    splits contiguous blocks of whole batches and drops the remainder; here no sample is
    dropped). Each shard is sorted, so a worker reads its rows in memory order.
    """
    if n_shards > n_samples:
        raise ValueError(f"cannot split {n_samples} samples into {n_shards} shards: "
                         f"n_workers must be at most the number of samples")
    return [np.sort(part) for part in np.array_split(rng.permutation(n_samples), n_shards)]
