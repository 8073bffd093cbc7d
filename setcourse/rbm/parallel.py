"""How many threads the RBM's products get: one for small products, where starting threads costs
more than it saves.

An SET-RBM on COIL20 multiplies 12,240 connections by batches of 10 samples, ~10^5
multiply-adds per product: a parallel region costs more to wake than it saves. Measured on the
2-core machine (busy with other jobs), per call: forward product 772 us on 2 numba threads
against 105 us on one, SDDMM 757 us against 95 us. OpenBLAS alike, even for the 20 million
multiply-adds of a dense 1024 x 200 RBM's AIS step (100 chains): 7.1 ms on 2 threads, 1.3 ms
on one.
"""
import contextlib

import numba
from threadpoolctl import threadpool_limits

#: Multiply-adds per product below which the products run on one thread.
PARALLEL_WORK = 2 ** 26


@contextlib.contextmanager
def threads_for(work, sparse):
    """Run the block on one numba and one BLAS thread when ``work`` (multiply-adds per
    product) is small; a sparse model keeps BLAS on one thread anyway (numba does its work)."""
    small = work < PARALLEL_WORK
    previous = numba.get_num_threads()
    blas = (threadpool_limits(limits=1, user_api="blas") if small or sparse
            else contextlib.nullcontext())
    with blas:
        if small:
            numba.set_num_threads(1)
        try:
            yield
        finally:
            numba.set_num_threads(previous)
