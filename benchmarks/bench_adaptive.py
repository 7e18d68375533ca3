"""Adaptive grids (grid.mode: adaptive) against a static centred grid, on the mock backend's law.

    python benchmarks/bench_adaptive.py        # ~5 s

Two known laws (flops_fit.mock.mock_loss, C = 6ND, 0.3% noise, budgets 1e13 to 6.4e14 FLOPs,
GPT widths of the tiny test study): Chinchilla's form, and one whose data exponent grows by 0.04
per decade (so N*'s exponent changes with scale). Both grids start from the same guess, n_opt 4x
too large with exponent 0.5; the static grid gets as many runs as the adaptive one used. Printed:
runs, rounds (budgets run one after another: the lost parallelism), the fewest sizes on either
side of each budget's minimum, and the fitted exponent a (Approach 2) against the truth.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
from conftest import tiny_config  # noqa: E402

from flops_fit.adaptive import _fit_vertex, next_round, sides, width_counts  # noqa: E402
from flops_fit.config import check_config  # noqa: E402
from flops_fit.mock import mock_loss  # noqa: E402
from flops_fit.plan import sizes_for_budget  # noqa: E402

BUDGETS = [1e13, 4e13, 1.6e14, 6.4e14]
LAW = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28, "noise": 0.003}


def study(mode: str, **centred) -> dict:
    s = check_config(tiny_config("mock"))["studies"]["tiny"]
    del s["grid"]["sizes"]
    s["accounting"]["flops"] = "6N"
    s["grid"] |= {"mode": mode, "budgets": BUDGETS,
                  "centred": {"points": 5, "span": 16, "budget": 4e13, "exponent": 0.5} | centred}  # fmt: skip
    return s


def loss(n, c, law, rng) -> float:
    return float(mock_loss(n, np.array([c / (6 * n)]), law)[0]) * (1 + law["noise"] * rng.standard_normal())


def true_n_opt(law, c) -> float:
    ns = np.geomspace(1e3, 1e9, 6000)
    return float(ns[np.argmin([float(mock_loss(n, np.array([c / (6 * n)]), law)[0]) for n in ns])])


def exponent(rows) -> tuple[float, int]:
    vertices = {}
    for b in BUDGETS:
        group = [r for r in rows if r["budget"] == b]
        v = _fit_vertex([r["params"] for r in group], [r["loss"] for r in group]) if len(group) >= 3 else None
        if v:
            vertices[b] = v
    if len(vertices) < 2:
        return math.nan, len(vertices)
    return float(np.polyfit(np.log(list(vertices)), np.log(list(vertices.values())), 1)[0]), len(vertices)


def bracket(rows) -> int:
    return min(min(sides([r for r in rows if r["budget"] == b])) for b in BUDGETS)


def main() -> None:
    for name, law in (("Chinchilla law", LAW), ("exponent drifts", LAW | {"beta_per_decade": 0.04})):
        truth = [true_n_opt(law, c) for c in BUDGETS]
        a_true = float(np.polyfit(np.log(BUDGETS), np.log(truth), 1)[0])
        adaptive = study("adaptive", n_opt=4 * truth[1])
        counts = width_counts("tiny", adaptive)
        for seed in (0, 1, 2):
            rng = np.random.default_rng(seed)
            rounds, rows = [], []
            while not (step := next_round(adaptive["grid"]["centred"], BUDGETS, rounds, rows, counts)).get("done"):
                rounds.append(step)
                rows += [{"budget": step["budget"], "params": counts[s], "size": s,
                          "loss": loss(counts[s], step["budget"], law, rng)} for s in step["sizes"]]  # fmt: skip
            static = study("independent", n_opt=4 * truth[1], points=round(len(rows) / len(BUDGETS)))
            rng = np.random.default_rng(seed)
            srows = [{"budget": b, "params": counts[s], "size": s, "loss": loss(counts[s], b, law, rng)}
                     for b in BUDGETS for s in sizes_for_budget("tiny", static, b)]  # fmt: skip
            (a_ad, used_ad), (a_st, used_st) = exponent(rows), exponent(srows)
            print(f"{name}, seed {seed}: true a {a_true:.3f} | adaptive: {len(rows)} runs in {len(rounds)} rounds, "
                  f">= {bracket(rows)} sizes each side of every minimum, a {a_ad:.3f} (error {abs(a_ad - a_true):.3f}, "
                  f"{used_ad} budgets usable) | static: {len(srows)} runs in 1 round, >= {bracket(srows)} each side, "
                  f"a {a_st:.3f} (error {abs(a_st - a_true):.3f}, {used_st} budgets usable)")  # fmt: skip


if __name__ == "__main__":
    main()
