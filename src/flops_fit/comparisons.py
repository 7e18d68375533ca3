"""The config's ``compare:`` pairs as the workflow needs them (workflow/rules/compare.smk).

Pure functions of the checked config, cheap at Snakefile parse time (no pandas, no fitting).
A pair is built when both of its studies are active, under
``results/comparison/<baseline>-vs-<variant>/``.
"""

from __future__ import annotations

TABLE_FORMATS = ("csv", "md", "tex", "html")


def pair_name(pair: dict) -> str:
    return f"{pair['baseline']}-vs-{pair['variant']}"


def active_pairs(config: dict) -> dict[str, dict]:
    """``{"<baseline>-vs-<variant>": pair}`` of the pairs whose studies are both active."""
    active = set(config["active_studies"])
    return {pair_name(p): p for p in config.get("compare", []) if {p["baseline"], p["variant"]} <= active}


def budgets(config: dict, pair: dict) -> list[float]:
    """The pair's ``budgets``, else the baseline's grid budgets and 10x the largest."""
    if pair.get("budgets"):
        return sorted(float(c) for c in pair["budgets"])
    studied = sorted(float(c) for c in config["studies"][pair["baseline"]]["grid"]["budgets"])
    return [*studied, 10 * studied[-1]]


def figure_formats(config: dict, pair: dict) -> list[str]:
    """The baseline study's figure formats."""
    return list(config["studies"][pair["baseline"]]["figures"]["formats"])


def outputs(config: dict) -> list[str]:
    """Every file `rule all` asks for the active pairs."""
    out = []
    for name, pair in active_pairs(config).items():
        folder = f"results/comparison/{name}"
        out += [f"{folder}/compare.json", *(f"{folder}/comparison.{ext}" for ext in TABLE_FORMATS)]
        out += [f"{folder}/multiplier.{ext}" for ext in figure_formats(config, pair)]
    return out


def arguments(config: dict, pair: dict) -> str:
    """The ``--budget`` and ``--approach`` options of ``flops-fit compare`` for ``pair``."""
    args = [f"--budget {c:g}" for c in budgets(config, pair)]
    args += [f"--approach {k}" for k in pair.get("approaches", [])]
    return " ".join(args)
