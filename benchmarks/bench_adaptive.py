"""Adaptive grids (grid.mode: adaptive) against a static centred grid, on the mock backend's law.

    python benchmarks/bench_adaptive.py        # 20 noise draws per case, ~40 s
    python benchmarks/bench_adaptive.py 100    # more draws

Two known laws (flops_fit.mock.mock_loss, C = 6ND, 0.3% noise, budgets 1e13 to 6.4e14 FLOPs,
GPT widths of the tiny test study): Chinchilla's form, and one whose data exponent grows by 0.04
per decade (so N*'s exponent changes with scale). Both grids start from the same guess, n_opt 4x
too large (and 4x too small) with exponent 0.5; the static grid gets at least as many runs as the
adaptive one used. Printed per case over the noise draws: runs, rounds (budgets run one after
another: the lost parallelism), the fewest sizes on either side of each budget's minimum, the
fitted exponent a (Approach 2)'s error against the truth for both grids, in how many draws the
adaptive error is at most half the static one, the median ratio, and Approach 2's own bias on
the law (a noiseless grid centred exactly on the true optima).
"""

from __future__ import annotations

import math
import statistics
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
    noise = law["noise"] * rng.standard_normal() if rng is not None else 0.0
    return float(mock_loss(n, np.array([c / (6 * n)]), law)[0]) * (1 + noise)


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


def centred_bias(law, truth, a_true, counts) -> float:
    """The exponent error of a noiseless grid of ``points`` sizes centred exactly on every
    budget's true optimum: Approach 2's own bias on this law (no grid placement does better)."""
    def nearest(target):
        return min(counts, key=lambda w: abs(math.log(counts[w] / target)))

    rows = [{"budget": b, "params": counts[w], "size": w, "loss": loss(counts[w], b, law, None)}
            for b, t in zip(BUDGETS, truth, strict=True) for w in {nearest(t * 16 ** (i / 4 - 0.5)) for i in range(5)}]
    return abs(exponent(rows)[0] - a_true)


def draw(law, truth, seed: int, guess: float, counts) -> dict:
    """One draw: the adaptive study and a static centred grid with at least as many runs (the same
    guess, the same noise seed); the exponent errors and what each grid bracketed."""
    a_true = float(np.polyfit(np.log(BUDGETS), np.log(truth), 1)[0])
    adaptive = study("adaptive", n_opt=guess)
    rng = np.random.default_rng(seed)
    rounds, rows = [], []
    while not (step := next_round(adaptive["grid"]["centred"], BUDGETS, rounds, rows, counts)).get("done"):
        rounds.append(step)
        rows += [{"budget": step["budget"], "params": counts[s], "size": s,
                  "loss": loss(counts[s], step["budget"], law, rng)} for s in step["sizes"]]  # fmt: skip
    static = study("independent", n_opt=guess, points=math.ceil(len(rows) / len(BUDGETS)))
    rng = np.random.default_rng(seed)
    srows = [{"budget": b, "params": counts[s], "size": s, "loss": loss(counts[s], b, law, rng)}
             for b in BUDGETS for s in sizes_for_budget("tiny", static, b)]  # fmt: skip
    (a_ad, _), (a_st, used_st) = exponent(rows), exponent(srows)
    return {"runs": len(rows), "rounds": len(rounds), "bracket": bracket(rows), "static_runs": len(srows),
            "static_bracket": bracket(srows), "static_usable": used_st,
            "err": abs(a_ad - a_true),
            "static_err": abs(a_st - a_true) if math.isfinite(a_st) else math.inf}  # fmt: skip


def main(draws: int = 20) -> None:
    print(f"{draws} noise draws per case; the static grid gets ceil(adaptive runs / {len(BUDGETS)}) sizes per budget "
          "(at least as many runs); 'holds': adaptive error <= half the static one (a static grid with < 2 "
          "usable budgets has no exponent: holds)")  # fmt: skip
    for name, law in (("Chinchilla law", LAW), ("exponent drifts", LAW | {"beta_per_decade": 0.04})):
        truth = [true_n_opt(law, c) for c in BUDGETS]
        a_true = float(np.polyfit(np.log(BUDGETS), np.log(truth), 1)[0])
        counts = width_counts("tiny", study("adaptive", n_opt=truth[1]))
        floor = centred_bias(law, truth, a_true, counts)
        for label, factor in (("n_opt 4x too large", 4.0), ("n_opt 4x too small", 0.25)):
            res = [draw(law, truth, seed, factor * truth[1], counts) for seed in range(draws)]
            held = sum(1 for r in res if r["err"] <= 0.5 * r["static_err"])
            ratios = [r["err"] / r["static_err"] for r in res]
            finite = [r["static_err"] for r in res if math.isfinite(r["static_err"])]
            rms = math.sqrt(statistics.mean(r["err"] ** 2 for r in res))
            rms_st = math.sqrt(statistics.mean(e * e for e in finite)) if finite else math.nan
            runs, rounds = sorted({r["runs"] for r in res}), sorted({r["rounds"] for r in res})
            print(f"{name} (true a {a_true:.3f}), {label}: adaptive {runs[0]}-{runs[-1]} runs in "
                  f"{rounds[0]}-{rounds[-1]} rounds, >= {min(r['bracket'] for r in res)} sizes each side of every "
                  f"minimum in every draw; static "
                  f"{res[0]['static_runs']} runs, >= {min(r['static_bracket'] for r in res)} each side, "
                  f"{sum(1 for r in res if r['static_usable'] < 2)} draws with no exponent")  # fmt: skip
            print(f"  exponent error: adaptive median {statistics.median(r['err'] for r in res):.4f} (rms {rms:.4f}), "
                  f"static median {statistics.median(r['static_err'] for r in res):.4f} (rms of finite {rms_st:.4f}); "
                  f"holds in {held} of {draws} draws ({held / draws:.0%}), median ratio adaptive/static "
                  f"{statistics.median(ratios):.2f}; Approach 2's own bias here (grid centred on the true "
                  f"optima, no noise): {floor:.4f}")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
