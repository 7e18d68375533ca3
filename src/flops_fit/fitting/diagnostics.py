"""Design diagnostics: signs that a study does not measure what it claims (fit.json ``diagnostics``).

Each finding is ``{code, message, value}`` with the number behind it.  A scaling law is only as
good as its runs; these are the design faults that bias the fitted optimum without any error in
the fit itself (Porian et al. 2024 on learning rates, warmup and run length; Kaplan et al. 2020
and Pearce & Song 2024 on embedding parameters at small scale; Hoffmann et al. 2022, App. A, on
runs whose schedule is not set for their length):

* ``parabola_lack_of_fit``: an IsoFLOP parabola whose residuals exceed twice the seed-to-seed
  noise (measured from repeated runs of one size at one budget; skipped when none repeat);
* ``depth_jump``: a budget whose sizes change depth (``n_layer``) mid-curve;
* ``embedding_share``: embeddings > 30% of N while N counts total parameters;
* ``short_runs``: runs with fewer than 300 optimiser steps (from the curves' ``step``);
* ``longer_run_wins_early``: a longer run of the same size already below a shorter run's final
  loss at the shorter run's length, before its own decay -- a learning rate too low or runs too
  short for the schedule to matter;
* ``parabola_asymmetry_bias``: Approach 2's IsoFLOP vertices off the optimum by more than
  ``VERTEX_BIAS`` (median over budgets) because the loss is asymmetric in log N: the bias a
  parabola through the sampled sizes has on Approach 3's fitted surface (Czech et al. 2026;
  :func:`flops_fit.fitting.approach2.vertex_bias`).  Needs both approaches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flops_fit.approaches import approach_key

from . import approach2

EMBEDDING_SHARE = 0.30
MIN_STEPS = 300
LACK_OF_FIT = 2.0
VERTEX_BIAS = 0.03


def _finding(code: str, message: str, value) -> dict:
    return {"code": code, "message": message, "value": value}


def seed_noise(table: pd.DataFrame) -> float:
    """Relative seed-to-seed noise: pooled sd of log L over repeated (budget, N) runs (NaN if none)."""
    groups = [g["L"].to_numpy() for _, g in table.groupby(["budget_id", "N"]) if len(g) > 1]
    if not groups:
        return float("nan")
    dev = np.concatenate([np.log(g) - np.log(g).mean() for g in groups])
    dof = sum(len(g) - 1 for g in groups)
    return float(np.sqrt((dev**2).sum() / dof))


def _lack_of_fit(table, result) -> list[dict]:
    noise = seed_noise(table)
    block = result["approaches"].get(approach_key(2)) or {}
    if not np.isfinite(noise) or noise <= 0:
        return []
    out = []
    for det in block.get("budgets") or []:
        if not det.get("included") or not det.get("parabola") or det["n_sizes"] <= 3:
            continue
        grp = table[table["budget_id"] == det["budget_id"]]
        p = det["parabola"]
        x = np.log10(grp["N"].to_numpy())
        fitted = p["c2"] * x * x + p["c1"] * x + p["c0"]
        rms = float(np.sqrt(np.mean(np.log(grp["L"].to_numpy() / fitted) ** 2)))
        if rms > LACK_OF_FIT * noise:
            out.append(_finding(
                "parabola_lack_of_fit",
                f"C={det['budget']:.3g}: the IsoFLOP parabola misses its runs by {100 * rms:.2f}% (rms), more than "
                f"{LACK_OF_FIT:g}x the seed-to-seed noise ({100 * noise:.2f}%): the curve is not a parabola in log N "
                "over these sizes (narrow the span, or check the runs)",
                rms,
            ))
    return out


def _depth_jumps(runs, table) -> list[dict]:
    if "n_layer" not in runs.columns or "run_id" not in runs.columns:
        return []
    depth = runs.assign(run_id=runs["run_id"].astype(str)).set_index("run_id")["n_layer"]
    depth = depth[~depth.index.duplicated()]  # identical duplicated rows (excluded from the fit) share a run_id
    out = []
    for _, grp in table.groupby("budget_id"):
        layers = depth.reindex(grp["run_id"]).dropna().unique()
        if len(layers) > 1:
            out.append(_finding(
                "depth_jump",
                f"C={grp['budget'].iloc[0]:.3g}: its sizes change depth mid-curve (n_layer {sorted(layers.tolist())}); "
                "a depth change makes a step in the IsoFLOP curve: keep depth fixed within a budget",
                sorted(float(v) for v in layers),
            ))
    return out


def _embedding_share(runs, params_convention: str) -> list[dict]:
    if params_convention != "total" or not {"params", "params_non_embedding"} <= set(runs.columns):
        return []
    share = 1 - runs["params_non_embedding"] / runs["params"]
    worst = float(share.max())
    if not worst > EMBEDDING_SHARE:
        return []
    many = int((share > EMBEDDING_SHARE).sum())
    return [_finding(
        "embedding_share",
        f"embeddings are up to {worst:.0%} of N in {many} of {len(runs)} runs while N counts total parameters: "
        "at small scale they distort the exponents (Kaplan et al. 2020; Pearce & Song 2024); fit with "
        "params: non_embedding or grow the models",
        worst,
    )]


def _short_runs(curves) -> list[dict]:
    if curves is None or curves.empty or "step" not in curves.columns:
        return []
    steps = curves.groupby("run_id")["step"].max()
    short = steps[steps < MIN_STEPS]
    if short.empty:
        return []
    return [_finding(
        "short_runs",
        f"{len(short)} of {len(steps)} runs take fewer than {MIN_STEPS} optimiser steps (fewest: {int(short.min())}): "
        "warmup and the schedule dominate such runs; use smaller batches or larger budgets",
        int(short.min()),
    )]


def _longer_run_wins_early(runs, table, curves) -> list[dict]:
    if curves is None or curves.empty:
        return []
    out = []
    by_run = {rid: g.sort_values("tokens") for rid, g in curves.groupby("run_id")}
    for n, grp in table.groupby("N"):
        grp = grp.sort_values("D")
        for i in range(len(grp) - 1):
            short, long_ = grp.iloc[i], grp.iloc[i + 1]
            curve = by_run.get(str(long_["run_id"]))
            if curve is None or long_["D"] <= short["D"] * 1.05:
                continue
            at = np.interp(np.log(short["D"]), np.log(curve["tokens"]), curve["loss"], left=np.nan, right=np.nan)
            if np.isfinite(at) and at < short["L"]:
                out.append(_finding(
                    "longer_run_wins_early",
                    f"N={n:.3g}: the run of {long_['D']:.3g} tokens is already at {at:.4g} after "
                    f"{short['D']:.3g} tokens, "
                    f"below the {short['D']:.3g}-token run's final loss {short['L']:.4g}: the shorter run's schedule "
                    "does not reach its optimum (learning rate too low or runs too short)",
                    float(short["L"] - at),
                ))
                break
    return out[:5]


def _vertex_bias(log10_n, alpha: float, beta: float, n_opt: float) -> float:
    """``approach2.vertex_bias``, NaN where it cannot be measured: exponents far from the sampled
    sizes' scale (a fit of a study whose loss hardly depends on N) overflow the IsoFLOP curve."""
    try:
        with np.errstate(all="ignore"):
            return float(approach2.vertex_bias(log10_n, alpha, beta, float(np.log10(n_opt))))
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return float("nan")


def _asymmetry_bias(table, result) -> list[dict]:
    a2, a3 = (result["approaches"].get(approach_key(k)) or {} for k in (2, 3))
    if a2.get("status") != "ok" or a3.get("status") != "ok":
        return []
    alpha, beta = a3["params"]["alpha"], a3["params"]["beta"]
    if not (alpha > 0 and beta > 0):
        return []
    biases = [
        _vertex_bias(np.log10(table.loc[table["budget_id"] == det["budget_id"], "N"]), alpha, beta, det["N_opt"])
        for det in a2.get("budgets") or [] if det.get("included")
    ]
    biases = [b for b in biases if np.isfinite(b)]
    if not biases:
        return []
    ratio = float(10 ** np.median(biases))
    if abs(ratio - 1) <= VERTEX_BIAS:
        return []
    return [_finding(
        "parabola_asymmetry_bias",
        f"Approach 2's IsoFLOP vertices lie x{ratio:.3f} of the optimum (median over {len(biases)} budgets): "
        f"the loss is asymmetric in log N (alpha={alpha:.3f}, beta={beta:.3f} from Approach 3) and a parabola "
        "through the sampled sizes leans to the flatter side (Czech et al. 2026); Approach 2's N* carries "
        "that bias, its D* the inverse: prefer Approach 3's allocation, or sample sizes closer to the minimum",
        ratio,
    )]


def check(runs: pd.DataFrame, table: pd.DataFrame, curves: pd.DataFrame | None, result: dict) -> list[dict]:
    """Every diagnostic that the tables at hand allow (see the module docstring)."""
    return (
        _lack_of_fit(table, result)
        + _depth_jumps(runs, table)
        + _embedding_share(runs, result["convention"]["params"])
        + _short_runs(curves)
        + _longer_run_wins_early(runs, table, curves)
        + _asymmetry_bias(table, result)
    )
