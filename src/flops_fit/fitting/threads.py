"""Run small L-BFGS problems on one BLAS thread.

scipy's L-BFGS-B calls (OpenBLAS) BLAS on 5-parameter problems; with several BLAS threads on a
busy 2-core machine each call spin-waits, and a fit measured 10x slower (4.7 s of CPU instead
of 0.48 s).  ``one_blas_thread()`` sets every loaded OpenBLAS (numpy's and scipy's builds) to
one thread for the duration and restores the previous count (the effect of
``OPENBLAS_NUM_THREADS=1``, without touching the environment).  Linux only; elsewhere a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools

_SYMBOLS = (
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
)


@functools.cache
def _openblas() -> tuple:
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln and ln.split()[-1].startswith("/")})
    except OSError:
        return ()
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in _SYMBOLS:
            if hasattr(lib, get) and hasattr(lib, put):
                found.append((getattr(lib, get), getattr(lib, put)))
                break
    return tuple(found)


@contextlib.contextmanager
def one_blas_thread():
    """Context manager: OpenBLAS on one thread inside, previous thread counts restored after."""
    libs = _openblas()
    old = [get() for get, _ in libs]
    for _, put in libs:
        put(1)
    try:
        yield
    finally:
        for (_, put), n in zip(libs, old, strict=True):
            put(n)
