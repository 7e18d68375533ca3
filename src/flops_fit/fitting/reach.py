"""What a study cannot know: how far beyond its budgets its answer has been tested, and what to add.

A scaling law is only checked as far as the study's own data can check it.  The rolling-origin
backtest (:mod:`.predictive`) refits on the smaller budgets and predicts the larger ones; the
largest distance it reaches (``tested_factor``, the largest budget over the smallest last origin)
is the furthest the study has measured its own extrapolation error.  Beyond it the predictive
interval's drift rests on the priors (other studies' drift), and the answer on the law's form.
Choshen et al. 2025 ("A Hitchhiker's Guide to Scaling Law Estimation") find that laws fitted to
few models or a narrow compute range extrapolate erratically; Besiroglu et al. 2024 show that a
handful of optima leave the exponents poorly determined.  A study with fewer than
``MIN_BUDGETS`` usable optima, or spanning less than ``MIN_SPAN`` decades of compute, is told so
with the budgets that would extend it: the next ones of its own geometric spacing above its
largest budget (more budgets there lengthen the backtest where the prediction is wanted).
"""

from __future__ import annotations

import math

MIN_BUDGETS = 5  # usable optima: 3 to fit the first origin's saturating law, 2 more to check it
MIN_SPAN = 1.0  # decades of compute spanned by the usable optima
SUGGESTED = 3  # budgets suggested above the largest


def assess(budgets, usable, tested_u: float) -> dict:
    """``{span_decades, usable_budgets, tested_factor, limited, suggested_budgets, message}`` of a study
    with studied ``budgets``, ``usable`` of them with an optimum inside their sampled sizes, and a
    rolling backtest that reached ``tested_u`` decades beyond its origins."""
    studied = sorted(float(c) for c in budgets)
    ok = sorted(float(c) for c in usable)
    span = math.log10(ok[-1] / ok[0]) if len(ok) >= 2 else 0.0
    ratio = (studied[-1] / studied[0]) ** (1 / (len(studied) - 1)) if len(studied) >= 2 else 2.0
    step = min(max(ratio, 1.5), 10.0)  # the study's own spacing, within reason
    suggested = [studied[-1] * step**k for k in range(1, SUGGESTED + 1)]
    tested = 10 ** max(tested_u, 0.0)
    limited = len(ok) < MIN_BUDGETS or span < MIN_SPAN
    if limited:
        message = (
            f"the study has {len(ok)} usable budget(s) spanning {span:.2g} decades of compute (a law is tested "
            f"from {MIN_BUDGETS} budgets over {MIN_SPAN:g} decade): its own backtest checked predictions up to "
            f"{tested:.2g}x beyond its data; further out the answer rests on the law's form and on other studies' "
            f"drift (the priors). To extend it, add budgets at " + ", ".join(f"{c:.3g}" for c in suggested)
            + " FLOPs"
        )
    else:
        message = (
            f"{len(ok)} usable budgets spanning {span:.2g} decades; the study's own backtest checked predictions "
            f"up to {tested:.2g}x beyond its data"
        )
    return {"span_decades": span, "usable_budgets": len(ok), "tested_factor": tested, "limited": limited,
            "suggested_budgets": suggested, "message": message}


def beyond_tested(factor: float, reach: dict | None) -> str:
    """A note for a prediction ``factor`` times the largest studied budget, when that is further than
    the study's backtest reached (else '')."""
    if not reach or not (factor > max(reach.get("tested_factor", 1.0), 1.05)):
        return ""
    return (f"{factor:.3g}x is beyond the {reach['tested_factor']:.2g}x the study's own backtest checked: "
            "the interval there rests on other studies' drift")
