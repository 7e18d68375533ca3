"""Automatic run quality control: the runs and budgets a careful collector drops by hand, found by rule.

``fit_runs`` applies :func:`apply` after the runs table is read and grouped into budgets, before
any approach is fitted; every flag is recorded in fit.json under ``quality`` (the rule, the numbers
behind it, a message) and printed in fit.log.  What a flag excludes follows what it says is wrong:

* a run off its budget's parabola (rule 1) is a bad measurement: it leaves every approach;
* a budget whose optimum is not measured (rules 2 to 4) leaves Approach 2, which rests on each
  budget's vertex (:func:`approach2_minima`, for the fit and every backtest refit alike), while its
  runs stay for Approaches 1 and 3: they are good measurements of L(N, D) away from the optimum,
  which is where a surface fit learns its exponents.  A study with its lowest loss at an edge of
  every budget therefore fails Approach 2 naming them (issue 25: it was fitted as a = 0 with only
  off-centre warnings).

With ``keep_flagged`` every flag is recorded and nothing is excluded.  The rules, in this order:

1. ``off_parabola`` (runs).  An IsoFLOP profile is smooth in log N (Hoffmann et al. 2022, §3.2), so a
   run far off the parabola through its budget's *other* runs is a failed or mislabelled run, not
   information.  For each run, the deleted residual of ln L against a parabola in log10 N,
   standardised by its leverage (``e / sqrt(1 - h)``, which is exactly the residual against the
   parabola fitted without the run, in units of the run noise); the noise scale is the pooled
   median absolute deviation over the study (1.4826 MAD: robust to the outliers it is meant to
   find).  A run is flagged when it lies more than ``OUTLIER_SIGMA`` noise scales *and* more than
   ``OUTLIER_MIN_OFF`` (relative) off that parabola: the second condition keeps a study whose
   noise is near zero (synthetic, or a digitised figure's many identical points) from losing runs
   to the parabola's own lack of fit.  The worst run is removed first and its budget refitted
   before the next is judged, so one outlier does not mask another; a removed run that the
   parabola through its budget's kept runs then explains is restored, so one does not frame
   another (an outlier next to the edge bends the leave-one-out parabola at the edge run).  Only
   budgets with ``OUTLIER_MIN_RUNS`` runs at ``OUTLIER_MIN_SIZES`` sizes are judged (fewer leave no
   redundancy to tell which run is off).  Besiroglu et al. 2024 (Chinchilla: a replication attempt) show that a
   handful of such points moves Chinchilla's fitted law; Open-Athena's collector of public IsoFLOP
   data (Czech et al. 2026) drops runs by a leave-one-out residual against an experiment-wide MAD
   in the same way.
2. ``too_few_sizes`` (budgets).  Fewer than 3 distinct model sizes leave a parabola undetermined:
   the budget has no measured optimum.
3. ``edge_minimum`` (budgets).  The lowest loss lies at the smallest or the largest sampled size
   (ties included): the optimum is not bracketed, the parabola's vertex is an extrapolation or
   leans on runs from one side only, which biases N* (Czech et al. 2026 on off-centre sampling;
   Hoffmann et al. 2022 sample around the optimum for this reason).
4. ``unresolved_minimum`` (budgets).  The lowest loss is inside, but the vertex of the parabola of
   ln L vs log10 N lies within ``RESOLVED_Z`` standard errors (delta method, from rule 1's noise
   scale) of the smallest or largest size, or the parabola opens downward: rule 3 when the noise,
   not the lowest run, decides (the collector's ``off_center`` budgets; Czech et al. 2026).  A
   budget whose curvature alone is weak but whose vertex is well inside is kept: its vertex is
   noisy, which Approach 2's bootstrap carries, not biased.

Rules 2 to 4 judge IsoFLOP profiles, so they apply to *planned* budgets (a ``budget`` column in
the runs table, as every flops-fit study writes): without one, budgets are inferred from C, and in
a table that is a grid of N x D (Farseer's, Gadre et al.'s over-training runs) they are accidental
groups of one or two sizes, no profiles to judge.

Not flagged here: runs whose status is not ``ok`` (diverged) and non-finite losses, which
:func:`flops_fit.fitting.runs_table.prepare_runs` already excludes (``excluded_runs``); repeated
sizes within a budget (the collector's ``near_duplicate_params``, there a guard against digitising
one point twice), which in a real study are seed repeats: information about the noise
(:func:`flops_fit.fitting.diagnostics.seed_noise`), not faults.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import approach2

OUTLIER_SIGMA = 4.0  # standardised deleted residual beyond which a run is off its parabola
OUTLIER_MIN_OFF = 0.01  # ... and at least this far off (relative), whatever the noise
OUTLIER_MIN_RUNS = 5  # budgets judged for outliers: at least this many runs
OUTLIER_MIN_SIZES = 4  # ... at this many distinct sizes
MIN_RESIDUALS = 10  # residuals needed to estimate the pooled noise scale
MIN_SIZES = 3  # a parabola's minimum needs three sizes
RESOLVED_Z = 2.0  # a budget's vertex lies at least this many standard errors inside its sizes
MAD_TO_SIGMA = 1.4826  # sd of a normal variable per median absolute deviation

RULES = {
    "off_parabola": (
        f"run more than {OUTLIER_SIGMA:g} noise scales (pooled 1.4826 MAD of the standardised deleted residuals) "
        f"and more than {OUTLIER_MIN_OFF:.0%} off the parabola of ln L vs log10 N through its budget's other runs"
    ),
    "too_few_sizes": f"budget with fewer than {MIN_SIZES} distinct model sizes: no measured optimum",
    "edge_minimum": "budget whose lowest loss is at its smallest or largest size: the optimum is not bracketed",
    "unresolved_minimum": (
        f"budget whose parabola's vertex lies within {RESOLVED_Z:g} standard errors (noise scale of rule 1) of its "
        "smallest or largest size: the optimum is not bracketed beyond the noise"
    ),
}


def _deleted_residuals(log10_n: np.ndarray, log_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(standardised, deleted) residuals of ln L against a parabola in log10 N.  ``deleted[i]`` is
    ln L_i less the parabola fitted without run i (e_i / (1 - h_i)); ``standardised[i]`` is
    e_i / sqrt(1 - h_i), the same residual divided by its own standard error in noise units.  NaN
    where the run alone pins the parabola (h_i = 1)."""
    design = np.vander(log10_n - log10_n.mean(), 3)
    inverse = np.linalg.pinv(design.T @ design)  # 3 x 3: no n x n hat matrix for large budgets
    h = np.clip(np.einsum("ij,jk,ik->i", design, inverse, design), 0.0, 1.0)
    e = log_l - design @ (inverse @ (design.T @ log_l))
    free = 1.0 - h > 1e-9
    std = np.full(len(log10_n), np.nan)
    deleted = np.full(len(log10_n), np.nan)
    std[free] = e[free] / np.sqrt(1.0 - h[free])
    deleted[free] = e[free] / (1.0 - h[free])
    return std, deleted


def _judged(n: np.ndarray) -> bool:
    return len(n) >= OUTLIER_MIN_RUNS and len(np.unique(n)) >= OUTLIER_MIN_SIZES


def _prediction(log10_n: np.ndarray, log_l: np.ndarray, at: float) -> tuple[float, float]:
    """(ln L at log10 N = ``at`` on the parabola through the given runs, its standard error per unit
    noise: sqrt(1 + x0' (X'X)^-1 x0)).  A run's standardised deleted residual is exactly its
    distance from the parabola through the others divided by this."""
    centre = log10_n.mean()
    design = np.vander(log10_n - centre, 3)
    coef, *_ = np.linalg.lstsq(design, log_l, rcond=None)
    x0 = np.vander(np.array([at - centre]), 3)[0]
    return float(x0 @ coef), float(np.sqrt(1.0 + x0 @ np.linalg.pinv(design.T @ design) @ x0))


def _outliers(table: pd.DataFrame) -> tuple[list[dict], float, list[str]]:
    """Runs off their budget's parabola (rule 1): (flags, worst first; noise scale; notes).

    Backward then forward: the worst run beyond both thresholds is removed and its budget refitted
    until none is left; then a removed run that lies within the thresholds of the parabola through
    its budget's kept runs is restored (the best first) and the removal starts again.  The restore
    step undoes a run framed by a real outlier next to it (an outlier near the edge of the sizes
    bends the leave-one-out parabola at the edge run)."""
    keep = {bid: list(grp.index) for bid, grp in table.groupby("budget_id", sort=True)}
    log10_n = np.log10(table["N"].to_numpy(float))
    log_l = np.log(table["L"].to_numpy(float))

    def residuals(bid):
        rows = np.array(keep[bid], dtype=int)
        if not _judged(log10_n[rows]):
            return None
        return _deleted_residuals(log10_n[rows], log_l[rows])

    res = {bid: residuals(bid) for bid in keep}
    pooled = np.concatenate([r[0][np.isfinite(r[0])] for r in res.values() if r is not None] or [np.array([])])
    if len(pooled) < MIN_RESIDUALS:
        note = (
            f"off_parabola not checked: {len(pooled)} runs in budgets of >= {OUTLIER_MIN_RUNS} runs at >= "
            f"{OUTLIER_MIN_SIZES} sizes; the noise scale needs >= {MIN_RESIDUALS}"
        )
        return [], float("nan"), [note]
    sigma = float(MAD_TO_SIGMA * np.median(np.abs(pooled)))

    def beyond(z, off):
        return np.isfinite(z) & (z > OUTLIER_SIGMA) & (np.abs(off) > OUTLIER_MIN_OFF)

    def versus_kept(bid, ix):
        """(z, relative offset) of a removed run against the parabola of its budget's kept runs."""
        rows = np.array(keep[bid], dtype=int)
        if len(np.unique(log10_n[rows])) < MIN_SIZES or len(rows) < MIN_SIZES + 1:
            return np.inf, np.inf
        fit, se = _prediction(log10_n[rows], log_l[rows], log10_n[ix])
        d = log_l[ix] - fit
        return (abs(d) / (se * sigma) if sigma > 0 else np.inf), float(np.expm1(d))

    removed: dict[int, int] = {}  # table index -> budget id
    for _ in range(2 * len(table)):  # bounded: each round removes or restores one run
        worst = None
        for bid, r in res.items():
            if r is None:
                continue
            std, deleted = r
            z = np.abs(std) / sigma if sigma > 0 else np.where(np.isfinite(std), np.inf, np.nan)
            for i in np.flatnonzero(beyond(z, np.expm1(deleted))):
                if worst is None or z[i] > worst[0]:
                    worst = (float(z[i]), bid, int(i))
        if worst is not None:
            _, bid, i = worst
            removed[keep[bid].pop(i)] = bid
            res[bid] = residuals(bid)
            continue
        back = [(*versus_kept(bid, ix), ix, bid) for ix, bid in removed.items()]
        back = [(z, ix, bid) for z, off, ix, bid in back if not beyond(np.array([z]), np.array([off]))[0]]
        if not back:
            break
        _, ix, bid = min(back)
        del removed[ix]
        keep[bid] = sorted(keep[bid] + [ix])
        res[bid] = residuals(bid)

    flags = []
    for ix, bid in removed.items():
        z, off = versus_kept(bid, ix)
        row = table.loc[ix]
        flags.append({
            "rule": "off_parabola",
            "run_id": str(row["run_id"]),
            "budget": float(row["budget"]),
            "N": float(row["N"]),
            "L": float(row["L"]),
            "off": float(off),
            "z": float(z),
            "reason": (
                f"loss {row['L']:.4g} lies {100 * off:+.2f}% off the parabola through the budget's kept runs, "
                f"{z:.1f} noise scales ({100 * sigma:.2f}%)"
            ),
        })
    flags.sort(key=lambda f: -f["z"])
    return flags, sigma, []


def _noise(table: pd.DataFrame) -> float:
    """The pooled noise scale of rule 1 (1.4826 MAD of the standardised deleted residuals of the judged
    budgets) over ``table``; NaN with fewer than ``MIN_RESIDUALS``."""
    pooled = []
    for _, grp in table.groupby("budget_id"):
        x = np.log10(grp["N"].to_numpy(float))
        if _judged(x):
            std = _deleted_residuals(x, np.log(grp["L"].to_numpy(float)))[0]
            pooled.append(std[np.isfinite(std)])
    pooled = np.concatenate(pooled) if pooled else np.array([])
    return float(MAD_TO_SIGMA * np.median(np.abs(pooled))) if len(pooled) >= MIN_RESIDUALS else float("nan")


def _unresolved(n: np.ndarray, loss: np.ndarray, sigma: float) -> str | None:
    """Why the budget's minimum is not resolved from the edge of its sizes (rule 4), or None: the
    parabola of ln L vs log10 N opens downward, or its vertex lies within ``RESOLVED_Z`` standard
    errors (delta method, from the noise scale ``sigma``) of the smallest or largest size."""
    x = np.log10(n)
    centre = x.mean()
    design = np.vander(x - centre, 3)
    inverse = np.linalg.pinv(design.T @ design)
    c2, c1, _ = inverse @ (design.T @ np.log(loss))
    if not c2 > 0:
        return "the parabola of ln L vs log10 N opens downward: no minimum inside these sizes"
    vertex = -c1 / (2 * c2)
    grad = np.array([c1 / (2 * c2 * c2), -1 / (2 * c2), 0.0])
    se = sigma * float(np.sqrt(grad @ inverse @ grad))
    inside = min(vertex - (x.min() - centre), (x.max() - centre) - vertex) / se
    if inside > RESOLVED_Z:
        return None
    where = f"{inside:.1f} standard errors inside" if inside >= 0 else "outside"
    return (f"the vertex N*={10 ** (vertex + centre):.3g} lies {where} the sampled sizes {n.min():.3g} to "
            f"{n.max():.3g} (standard error {se:.2f} decades at noise scale {100 * sigma:.2f}%): not resolved from "
            "the edge; add sizes beyond it")


def _budget_flags(table: pd.DataFrame, sigma: float) -> list[dict]:
    """Budgets with too few sizes, an unbracketed or an unresolved minimum (rules 2, 3 and 4)."""
    out = []
    for _, grp in table.groupby("budget_id", sort=True):
        n, loss = grp["N"].to_numpy(float), grp["L"].to_numpy(float)
        sizes = np.unique(n)
        flag = {"budget": float(grp["budget"].iloc[0]), "n_runs": len(grp), "n_sizes": len(sizes),
                "N_min": float(sizes[0]), "N_max": float(sizes[-1]), "run_ids": grp["run_id"].astype(str).tolist()}
        if len(sizes) < MIN_SIZES:
            flag.update(rule="too_few_sizes",
                        reason=f"only {len(sizes)} distinct model size(s); a parabola's minimum needs >= {MIN_SIZES}")
        else:
            lowest = loss.min()
            sides = [side for side, size in (("smallest", sizes[0]), ("largest", sizes[-1]))
                     if loss[n == size].min() <= lowest]
            if not sides:
                why = _unresolved(n, loss, sigma) if np.isfinite(sigma) and sigma > 0 else None
                if why is None:
                    continue
                flag.update(rule="unresolved_minimum", reason=why)
                out.append(flag)
                continue
            at = float(sizes[0] if sides[0] == "smallest" else sizes[-1])
            flag.update(
                rule="edge_minimum",
                N_lowest=at,
                L_lowest=float(lowest),
                reason=(
                    f"lowest loss {lowest:.4g} at the {' and '.join(sides)} sampled size (N={at:.3g}; sizes "
                    f"{sizes[0]:.3g} to {sizes[-1]:.3g}): the optimum is not bracketed; add sizes beyond it"
                ),
            )
        out.append(flag)
    return out


def apply(table: pd.DataFrame, keep_flagged: bool = False) -> tuple[pd.DataFrame, dict]:
    """(table to fit, fit.json's ``quality`` block).  ``table``: the runs grouped into budgets
    (columns run_id, N, L, budget, budget_id; ``budget_label`` when the budgets were planned).
    Unless ``keep_flagged``, the runs off their parabola are dropped (every approach).  Flagged
    budgets stay in the table: :func:`approach2_minima` takes them out of Approach 2."""
    table = table.reset_index(drop=True)
    run_flags, sigma, notes = _outliers(table)
    dropped = {f["run_id"] for f in run_flags}
    rest = table[~table["run_id"].astype(str).isin(dropped)]
    planned = "budget_label" in table.columns
    budget_flags = _budget_flags(rest, _noise(rest)) if planned else []
    if not planned:
        notes.append("too_few_sizes, edge_minimum, unresolved_minimum not checked: budgets inferred from C (no budget "
                     "column), not planned IsoFLOP profiles")
    if not keep_flagged:
        table = rest.reset_index(drop=True)
    block = {
        "applied": not keep_flagged,
        "n_excluded": 0 if keep_flagged else len(run_flags),
        "noise": sigma,
        "flagged_runs": run_flags,
        "flagged_budgets": budget_flags,
        "rules": RULES,
        "notes": notes,
    }
    return table, block


def approach2_minima(table: pd.DataFrame, flops: str, keep_flagged: bool = False) -> list[dict]:
    """:func:`flops_fit.fitting.approach2.minima` with the budgets rules 2 to 4 flag marked as
    excluded, with the reason (unless ``keep_flagged``).  Used for the fit and for every backtest
    refit alike: a budget's flags depend on its own runs and the noise scale of the runs given."""
    details = approach2.minima(table, flops)
    if keep_flagged or "budget_label" not in table.columns:
        return details
    flags = _budget_flags(table, _noise(table))
    reasons = {f["budget"]: f"quality control ({f['rule']}): {f['reason']}" for f in flags}
    return [dict(d, included=False, reason=reasons[d["budget"]], warnings=[]) if d["budget"] in reasons else d
            for d in details]


def measured_only(errors: list[dict], block: dict) -> list[dict]:
    """Rolling-backtest errors (:func:`flops_fit.fitting.predictive.rolling_errors`) without those
    at a flagged budget: its optimum is not measured (its best run stands in for it there), so it
    is no yardstick for the predictive intervals' calibration."""
    if not block.get("applied"):
        return errors
    gone = {f["budget"] for f in block.get("flagged_budgets") or []}
    return [e for e in errors if e["budget"] not in gone]


def messages(block: dict | None) -> list[str]:
    """One line per flag, for fit.log and ``flops-fit fit`` (excluded, or kept by request)."""
    if not block:
        return []
    verb = "excluded" if block.get("applied") else "flagged (kept: keep_flagged)"
    where = "excluded from Approach 2" if block.get("applied") else verb
    lines = [f"budget C={f['budget']:.3g} {where} ({f['rule']}, {f['n_runs']} runs): {f['reason']}"
             for f in block.get("flagged_budgets") or []]
    lines += [f"run {f['run_id']} at C={f['budget']:.3g}, N={f['N']:.3g} {verb} ({f['rule']}): {f['reason']}"
              for f in block.get("flagged_runs") or []]
    return lines
