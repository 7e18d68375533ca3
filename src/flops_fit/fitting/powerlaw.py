"""Power laws in C shared by Approaches 1 and 2: N* = k_N C^a, D* = k_D C^b, L* = k_L C^-gamma.

Each is a least-squares straight line in log10 space (Hoffmann et al. 2022, §3.1-3.2).  The
loss law is a plain power law: good between the studied budgets, a rough guide beyond them
(use Approach 3's L(N, D) to extrapolate loss).
"""

from __future__ import annotations

import numpy as np

PARAM_NAMES = ("a", "k_N", "b", "k_D", "gamma", "k_L")


def _line(logc: np.ndarray, logy: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(logc, logy, 1)
    return float(slope), float(intercept)


def fit(c, n, d, loss) -> dict:
    """Fit the three laws to optimal points (C, N*, D*, L*); needs >= 2 distinct C."""
    logc = np.log10(np.asarray(c, dtype=float))
    a, log_kn = _line(logc, np.log10(n))
    b, log_kd = _line(logc, np.log10(d))
    g, log_kl = _line(logc, np.log10(loss))
    return {"a": a, "k_N": 10**log_kn, "b": b, "k_D": 10**log_kd, "gamma": -g, "k_L": 10**log_kl}


def evaluate(params: dict, budgets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N*, D*, L* of the laws at FLOP budgets C."""
    c = np.asarray(budgets, dtype=float)
    n = params["k_N"] * c ** params["a"]
    d = params["k_D"] * c ** params["b"]
    loss = params["k_L"] * c ** -params["gamma"]
    return n, d, loss
