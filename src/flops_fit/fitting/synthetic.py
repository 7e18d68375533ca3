"""Synthetic IsoFLOP studies drawn from a known L(N, D), for tests and benchmarks.

``isoflop_study(law, budgets)`` places ``sizes`` model sizes per budget, log-spaced over
``span`` decades around the law's own N*(C) (shifted by ``offset`` decades to make an
off-centre design), sets D = C / (6 N), and multiplies the loss by (1 + noise * z), z ~ N(0, 1).
Curves follow the same law at log-spaced token counts (an idealised run whose every point is
as good as a run trained for exactly that long).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import approach3

CHINCHILLA = {"E": 1.69337368, "A": 406.401018, "B": 410.722827, "alpha": 0.33917084, "beta": 0.2849083}


def law(E, A, B, alpha, beta) -> dict:
    """Parameter dict with the allocation exponents and G filled in."""
    theta = [np.log(A), np.log(B), np.log(E), alpha, beta]
    return approach3.params_from_theta(theta)


def isoflop_study(
    params: dict,
    budgets,
    sizes: int = 7,
    span: float = 1.0,
    offset: float = 0.0,
    noise: float = 0.005,
    seed: int = 0,
    curve_points: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(runs table, curves table or None) in the runs.csv / curves.csv formats."""
    p = law(params["E"], params["A"], params["B"], params["alpha"], params["beta"])
    rng = np.random.default_rng(seed)
    rows, curves = [], []
    for c in np.asarray(budgets, dtype=float):
        n_opt = approach3.optimal(p, [c])[0][0]
        for x in np.linspace(-span, span, sizes) + offset:
            n = n_opt * 10**x
            d = c / (6 * n)
            loss = float(approach3.loss(p, n, d)) * (1 + noise * rng.standard_normal())
            rid = f"C{c:.2e}-N{n:.3e}"
            rows.append(
                {
                    "run_id": rid,
                    "status": "ok",
                    "budget": c,
                    "params": n,
                    "params_non_embedding": 0.9 * n,
                    "tokens": d,
                    "flops": 6 * n * d,
                    "loss": loss,
                }
            )
            for t in np.geomspace(d / 1000, d, curve_points) if curve_points else []:
                lt = float(approach3.loss(p, n, t)) * (1 + noise * rng.standard_normal())
                curves.append({"run_id": rid, "step": 0, "tokens": t, "flops": 6 * n * t, "loss": lt})
    runs = pd.DataFrame(rows)
    cv = pd.DataFrame(curves) if curves else None
    if cv is not None:
        cv["step"] = cv.groupby("run_id").cumcount() + 1
    return runs, cv
