"""Adaptive grids (``grid.mode: adaptive``): each budget's sizes placed around what the smaller
budgets showed.

A grid planned up front (``grid.centred``) centres every budget on a guess of the optimum,
N*(C) = n_opt x (C / budget)^exponent; when the guess is off, runs land far from the optimum and
IsoFLOP minima fall at the edge of their sizes, where Approach 2 has to drop the budget. An
adaptive study trains its budgets from small to large in rounds (the idea of active experiment
selection for scaling laws). Each round (:func:`next_round`) looks at every run so far and adds
runs:

1. the first budget, the one placed blind, in two rounds: a coarse scout of 3 sizes over
   ``span`` around the configured guess, then ``points`` sizes over ``span`` around the minimum
   the scout found (the vertex of its parabola, else its lowest loss), less the targets a scout
   size already covers;
2. when the latest budget's minimum has fewer than 2 sizes on one side (the observed lowest loss
   sits at or next to an edge), sizes on that side, one ladder step (span^(1/(points-1))) apart,
   before the study moves on (at most ``MAX_EXTRA_ROUNDS`` times per budget);
3. otherwise the next budget: ``points`` sizes over ``span`` around N* predicted by a power law
   through the minima found so far (the vertices of Approach 2's parabolas, Hoffmann et al. 2022
   §3.2; with one budget, the configured exponent from that budget's vertex).

Why the scout: Approach 2 fits a parabola over all of a budget's sizes, and a parabola over a
window that is lopsided around the minimum biases N* (loss is not symmetric in log N); the
exponent is unbiased when every budget's window sits the same way around its minimum. A first
budget planned as a full spread around a guess 4x off, then extended on one side, ends with
two sizes below its minimum and four above; three scout sizes leave one far size instead of
two, and cost a run less. On the benchmark's drifting law (noiseless, guess 4x too large) the
exponent error goes from 0.0077 to 0.0068, against 0.0053 for grids centred on the true optima
(``benchmarks/bench_adaptive.py``).

The trade-off: budgets run one after another (a round waits for the previous one), so the grid
has less parallelism than a static one: a cluster sits partly idle while a round finishes.
Torch-free; the Snakemake checkpoint ``adapt`` calls :func:`next_round` once per round.
"""

from __future__ import annotations

import math

import numpy as np

SCOUT = 3  # sizes of the first round (the first budget's coarse look around the guess)
MAX_EXTRA_ROUNDS = 2  # per budget: edge extensions before the study moves on anyway


def _fit_vertex(params: list[float], losses: list[float]) -> float | None:
    """N* of one budget: the vertex of the parabola of loss in log10 N, if it opens upward
    and lies inside the sizes (Approach 2); else None."""
    x = np.log10(np.asarray(params, float))
    if len(np.unique(x)) < 3:
        return None
    c2, c1, _ = np.polyfit(x, np.asarray(losses, float), 2)
    if not c2 > 0:
        return None
    xs = -c1 / (2 * c2)
    return float(10**xs) if x.min() < xs < x.max() else None


def sides(rows: list[dict]) -> tuple[int, int]:
    """How many sizes of one budget's ``rows`` ({size, params, loss}) lie below and above its
    lowest observed loss."""
    rows = sorted(rows, key=lambda r: r["params"])
    best = min(range(len(rows)), key=lambda i: rows[i]["loss"])
    return best, len(rows) - 1 - best


def _sizes_near(targets: list[float], counts: dict[int, int], taken: set[int]) -> list[int]:
    """The widths whose parameter counts lie nearest (in log) to ``targets``, none of ``taken``."""
    out = []
    for target in targets:
        free = [w for w in counts if w not in taken and w not in out]
        if free:
            out.append(min(free, key=lambda w: abs(math.log(counts[w] / target))))
    return sorted(set(out))


def next_round(centred: dict, budgets: list[float], rounds: list[dict], rows: list[dict],
               counts: dict[int, int]) -> dict:  # fmt: skip
    """The next round of an adaptive study: ``{"budget", "sizes", "why"}`` or ``{"done": True}``.

    ``centred``: the grid's points, span, budget, n_opt, exponent; ``budgets``: the study's
    budgets; ``rounds``: the earlier rounds; ``rows``: their finished runs ({budget, size, params,
    loss}); ``counts``: parameters by width of every valid width.
    """
    budgets = sorted(budgets)
    points, span = centred["points"], centred["span"]
    if not rounds:  # the one budget placed blind: a coarse scout first (3 sizes over the span)
        centre = centred["n_opt"] * (budgets[0] / centred["budget"]) ** centred["exponent"]
        scout = min(SCOUT, points)
        return _spread(budgets[0], centre, scout, span, counts, set(),
                       f"first budget: {scout} sizes around the configured guess N*={centre:.3g}")  # fmt: skip
    current = rounds[-1]["budget"]
    here = [r for r in rows if r["budget"] == current]
    below, above = sides(here)
    planned = 2 if current == budgets[0] and points > SCOUT else 1  # the first budget: scout, then spread
    extra = sum(1 for r in rounds if r["budget"] == current) - planned
    step = span ** (1 / (points - 1))
    taken = {r["size"] for r in here}
    if len(rounds) == 1 and points > SCOUT:  # then the spread around what the scout found
        vertex = _fit_vertex([r["params"] for r in here], [r["loss"] for r in here])
        centre = vertex if vertex is not None else min(here, key=lambda r: r["loss"])["params"]
        out = _spread(current, centre, points, span, counts, taken, f"first budget: around its scouted N*={centre:.3g}")
        if out["sizes"]:
            return out
    if min(below, above) < 2 and extra < MAX_EXTRA_ROUNDS:
        params = sorted(r["params"] for r in here)
        side, edge, sign = ("small", params[0], -1) if below < 2 else ("large", params[-1], 1)
        targets = [edge * step ** (sign * (i + 1)) for i in range(2 - min(below, above))]
        sizes = _sizes_near(targets, counts, taken)
        sizes = [s for s in sizes if (counts[s] < edge) == (sign < 0)]
        if sizes:
            return {"budget": current, "sizes": sizes,
                    "why": f"minimum at {current:.3g} has {min(below, above)} size(s) on its {side} side"}  # fmt: skip
    later = [b for b in budgets if b > current]
    if not later:
        return {"done": True}
    vertices = {}
    for b in sorted({r["budget"] for r in rows}):
        group = [r for r in rows if r["budget"] == b]
        v = _fit_vertex([r["params"] for r in group], [r["loss"] for r in group])
        if v is None:  # no usable parabola: the lowest observed loss stands for the minimum
            v = min(group, key=lambda r: r["loss"])["params"]
        vertices[b] = v
    nxt = later[0]
    if len(vertices) >= 2:
        logc, logn = np.log(list(vertices)), np.log(list(vertices.values()))
        slope, icept = np.polyfit(logc, logn, 1)
        centre = float(math.exp(icept + slope * math.log(nxt)))
        why = f"N* ~ C^{slope:.3f} through {len(vertices)} budgets"
    else:
        centre = vertices[current] * (nxt / current) ** centred["exponent"]
        why = "the first budget's minimum and the configured exponent"
    return _spread(nxt, centre, points, span, counts, set(), f"around N*={centre:.3g} from {why}")


def _spread(budget: float, centre: float, points: int, span: float, counts: dict, taken: set, why: str) -> dict:
    """``points`` sizes log-spaced over ``span`` around ``centre``, less the targets that a size
    already ``taken`` covers (within half a step): no second run next to one already trained."""
    targets = [centre * span ** (i / (points - 1) - 0.5) for i in range(points)]
    half = math.log(span) / (points - 1) / 2
    targets = [t for t in targets if all(abs(math.log(counts[w] / t)) >= half for w in taken)]
    return {"budget": budget, "sizes": _sizes_near(targets, counts, taken), "why": why}


def width_counts(name: str, study: dict) -> dict[int, int]:
    """Parameters (the study's ``accounting.params``) of every valid width, as ``grid.centred``
    chooses from."""
    from .plan import MAX_WIDTH, _n_params

    return {w: n for w in range(4, MAX_WIDTH + 1, 4) if (n := _n_params(name, w, study))}


def adapt_round(name: str, study: dict, rounds: list[dict], runs: list[dict]) -> dict:
    """The round file of an adaptive study (the Snakemake checkpoint ``adapt``): the next round of
    :func:`next_round` with its run ids (sizes the planner refuses, e.g. for too few steps, are
    listed under ``dropped``), or ``{"done": true}`` when every budget is bracketed."""
    from .config import ConfigError
    from .plan import plan_run

    convention = study["accounting"]["params"]
    finished = [r for r in runs if r["status"] == "ok" and r["final"]["val_loss"] is not None]
    rows = [{"budget": r["spec"]["budget"], "size": r["spec"]["size"], "params": r["params"][convention],
             "loss": r["final"]["val_loss"]} for r in finished]  # fmt: skip
    out = next_round(study["grid"]["centred"], study["grid"]["budgets"], rounds, rows, width_counts(name, study))
    out |= {"round": len(rounds), "done": bool(out.get("done"))}
    if out["done"]:
        return out
    ids, dropped = [], []
    for size in out["sizes"]:
        try:
            ids.append(plan_run(name, study, out["budget"], size)["run_id"])
        except ConfigError as err:
            dropped.append({"size": size, "reason": str(err)})
    return out | {"run_ids": ids, "dropped": dropped}


def max_rounds(study: dict) -> int:
    """An upper bound on the rounds of an adaptive study (one per budget plus the extra ones)."""
    return len(study["grid"]["budgets"]) * (1 + MAX_EXTRA_ROUNDS) + 2  # + the first budget's scout
