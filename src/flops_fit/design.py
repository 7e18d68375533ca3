"""Warnings about a planned grid that will not land in the scaling regime (docs/grid-design.md).

A scaling law fitted on the wrong runs is a clean fit of the wrong thing; these are the study
design mistakes that the default study used to make (issue 11), each checked on the planned
runs and reported as one line naming the key to change:

* depth that jumps inside a budget (``n_layer = round(d_model / aspect_ratio)`` over a range of
  widths): the IsoFLOP curve mixes two model families and its parabola bends at the jump
  (fix ``model.n_layer``; nanochat's and Kaplan et al. 2020's families vary one knob);
* runs shorter than ``MIN_STEPS`` optimiser steps: warmup and the schedule dominate their loss;
* N that counts embeddings which are more than ``MAX_EMBEDDING_SHARE`` of it: at small scale the
  law is cleaner in non-embedding parameters (Kaplan et al. 2020, Sec. 3.1; Pearce & Song 2024);
* one learning rate for sizes spanning more than ``MAX_CONSTANT_LR_SPAN`` x in N: the best rate
  falls with size, so the minima become minima of a mistuned family (use ``lr_scaling: sweep``);
* (mock backend, where the loss is known) budgets whose best size is at the grid's edge or has
  fewer than 2 sizes on one side.

The planner (``flops-fit plan``, the Snakefile at parse time) prints them; hard limits stay
errors elsewhere (``grid.min_steps``).
"""

from __future__ import annotations

MIN_STEPS = 300
MAX_EMBEDDING_SHARE = 0.25
MAX_CONSTANT_LR_SPAN = 4.0


def design_warnings(name: str, study: dict, runs: list[dict]) -> list[str]:
    """One line per design problem of the study's planned ``runs`` (empty when none)."""
    if not runs:
        return []
    where = f"studies.{name}"
    out = []
    by_budget: dict[float, list[dict]] = {}
    for r in runs:
        by_budget.setdefault(r["budget"], []).append(r)

    for budget, group in sorted(by_budget.items()):
        depths = sorted({r["model"].get("n_layer") for r in group} - {None})
        if len(depths) > 1:
            out.append(
                f"{where}.model: depth jumps inside budget {budget:g} (n_layer {', '.join(map(str, depths))}): "
                "one IsoFLOP curve mixes model families; set model.n_layer (width as the only knob)"
            )
            break

    short = [r for r in runs if r["steps"] < MIN_STEPS]
    if short:
        worst = min(short, key=lambda r: r["steps"])
        out.append(
            f"{where}.grid: {len(short)} of {len(runs)} runs get fewer than {MIN_STEPS} optimiser steps "
            f"(fewest: {worst['run_id']}, {worst['steps']}); raise the budgets or lower training.batch_size"
        )

    convention = study.get("accounting", {}).get("params", "total")
    fit_params = study.get("fit", {}).get("params", "total")
    if convention == "total" or fit_params == "total":
        share = max(r["params_embedding"] / r["params_total"] for r in runs if r["params_total"])
        if share > MAX_EMBEDDING_SHARE:
            out.append(
                f"{where}.accounting.params: embeddings are up to {share:.0%} of N (total); count N as "
                "non_embedding (accounting.params and fit.params) or use wider models"
            )

    training = study.get("training", {})
    if training.get("lr_scaling", "constant") == "constant" and training.get("backend", "torch") != "mock":
        ns = [r["params_total"] for r in runs if r["params_total"]]
        if ns and max(ns) / min(ns) > MAX_CONSTANT_LR_SPAN:
            out.append(
                f"{where}.training.lr_scaling: one learning rate ({training.get('lr')}) for sizes spanning "
                f"x{max(ns) / min(ns):.0f} in N; the best rate falls with size: use lr_scaling sweep"
            )

    if training.get("backend") == "mock":
        out += _mock_edges(where, study, by_budget)
    return out


def _mock_edges(where: str, study: dict, by_budget: dict[float, list[dict]]) -> list[str]:
    """Budgets whose best size under the mock law has fewer than 2 sizes on one side."""
    from .mock import mock_loss

    law = {**{"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}, **study["training"].get("mock", {})}
    convention = study.get("accounting", {}).get("params", "total")
    edge = []
    for budget, group in sorted(by_budget.items()):
        group = sorted(group, key=lambda r: r["params_total"])
        losses = [
            float(mock_loss(r[f"params_{convention}"], r["tokens"], law, r["optimizer"].get("lr"))) for r in group
        ]
        best = losses.index(min(losses))
        if best < 2 or best > len(group) - 3:
            edge.append(f"{budget:g}")
    if not edge:
        return []
    return [
        f"{where}.grid: at budget(s) {', '.join(edge)} the mock law's best size has fewer than 2 sizes on one "
        "side; re-centre the sizes (grid.centred.n_opt) or widen the span"
    ]
