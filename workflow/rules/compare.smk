# Baseline-vs-variant comparisons (the config's `compare:` list; flops_fit.fitting.compare):
# per pair whose studies are both active, one job reads the two fits (and runs.csv, whose `unit`
# column `flops-fit compare` checks) and writes results/comparison/<baseline>-vs-<variant>/
# compare.json and the table; one job per figure format draws multiplier.<ext> from compare.json.
# Nothing is refitted: a new budget reruns the comparison only, a restyled figure the figure only.
from flops_fit import comparisons

COMPARISONS = comparisons.active_pairs(CONFIG)
comparison_outputs = lambda: comparisons.outputs(CONFIG)


if COMPARISONS:

    localrules:
        compare,
        compare_figure,

    rule compare:
        input:
            baseline=lambda w: f"results/{COMPARISONS[w.pair]['baseline']}/fit/fit.json",
            variant=lambda w: f"results/{COMPARISONS[w.pair]['variant']}/fit/fit.json",
            baseline_runs=lambda w: f"results/{COMPARISONS[w.pair]['baseline']}/runs.csv",
            variant_runs=lambda w: f"results/{COMPARISONS[w.pair]['variant']}/runs.csv",
        output:
            json="results/comparison/{pair}/compare.json",
            csv="results/comparison/{pair}/comparison.csv",
            md="results/comparison/{pair}/comparison.md",
            tex="results/comparison/{pair}/comparison.tex",
            html=report(
                "results/comparison/{pair}/comparison.html",
                caption="../report/compare_table.rst",
                category="Comparison",
                subcategory="{pair}",
                labels={"comparison": "{pair}", "item": "table"},
            ),
        log:
            "results/comparison/logs/{pair}.log",
        wildcard_constraints:
            pair="|".join(re.escape(n) for n in COMPARISONS),
        conda:
            "../../envs/analysis.yaml"
        params:
            arguments=lambda w: comparisons.arguments(CONFIG, COMPARISONS[w.pair]),
            out=lambda w, output: os.path.dirname(output.json),
        shell:
            "flops-fit compare {input.baseline} {input.variant} {params.arguments}"
            " --out {params.out} --no-figure > {log} 2>&1"

    rule compare_figure:
        input:
            json="results/comparison/{pair}/compare.json",
        output:
            figure=report(
                "results/comparison/{pair}/multiplier.{ext}",
                caption="../report/compare_figure.rst",
                category="Comparison",
                subcategory="{pair}",
                labels={"comparison": "{pair}", "item": "figure", "format": "{ext}"},
            ),
        log:
            "results/comparison/logs/{pair}_figure_{ext}.log",
        wildcard_constraints:
            pair="|".join(re.escape(n) for n in COMPARISONS),
        conda:
            "../../envs/analysis.yaml"
        params:
            out=lambda w, output: os.path.dirname(output.figure),
        shell:
            "python -m flops_fit.figures.multiplier {input.json} --out {params.out}"
            " --formats {wildcards.ext} > {log} 2>&1"
