"""Timing helpers shared by the PyTorch references of `deno task bench`."""
import time


def median_time(fn, repeats):
    """Median wall time in seconds of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def blas_in_use():
    """The BLAS/LAPACK libraries this process has mapped (to tell OpenBLAS from the reference BLAS)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "lapack" in line.lower()}
        return sorted(l for l in libs if l.startswith("/"))
    except OSError:
        return []
