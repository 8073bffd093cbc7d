"""OpenMP wait policy for numba's threads; imported before numba loads (by ``nn.kernels``)."""
import os

# How long idle OpenMP threads spin before they sleep (GNU OpenMP, numba's default layer on
# Linux). benchmarks/thread_wait.py, 2 cores, 200 SET steps, median of 5 runs:
#   policy                      idle     beside one busy process
#   sleep at once (PASSIVE)     0.77 s   1.23 s   (a wake-up per parallel region: ~80 us)
#   spin 3,000 (our default)    0.75 s   1.32 s
#   spin 30,000                 0.72 s   2.43 s   (spinning threads fight for the cores)
#   spin 200,000                0.61 s   2.22 s
# A short spin bridges the gaps between the kernels of a training step and hands the core
# back soon after; a busy laptop is the common case in a course. Set OMP_WAIT_POLICY or
# GOMP_SPINCOUNT to override (e.g. GOMP_SPINCOUNT=200000 on a dedicated machine).
# Intel's OpenMP (some conda builds of numba use it) reads KMP_BLOCKTIME, in milliseconds
# (default 200); 1 ms is its shortest spin short of sleeping at once.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")
    os.environ.setdefault("KMP_BLOCKTIME", "1")
