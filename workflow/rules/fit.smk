# Plan table, aggregation of the runs, and the scaling-law fit. All cheap: local on clusters.


localrules:
    plan,
    aggregate,
    fit,


rule plan:
    output:
        plan="results/{study}/plan.tsv",
    params:
        tsv=lambda wildcards: plan_tsv(list(PLANS[wildcards.study].values())),
    log:
        "results/{study}/logs/plan.log",
    shell:
        "printf '%s' {params.tsv:q} > {output.plan} 2> {log}"


rule aggregate:
    input:
        runs=run_jsons,
    output:
        runs="results/{study}/runs.csv",
        curves="results/{study}/curves.csv",
    log:
        "results/{study}/logs/aggregate.log",
    shell:
        "flops-fit aggregate {input.runs} --runs {output.runs} --curves {output.curves} > {log} 2>&1"


def fit_flags(wildcards):
    """The study's fit options as `flops-fit fit` flags (config key `fit`)."""
    fit = study_cfg(wildcards)["fit"]
    budgets = " ".join(f"{b:g}" for b in predict_budgets(wildcards.study))
    approaches = " ".join(str(a) for a in fit["approaches"])
    return (
        f"--params {fit['params']} --flops {fit['flops']} --approaches {approaches}"
        f" --bootstrap {fit['bootstrap']} --confidence {fit['confidence']} --seed {fit['seed']}"
        f" --backtest-holdout {fit['backtest_holdout']} --budgets {budgets}"
    )


rule fit:
    input:
        runs="results/{study}/runs.csv",
        curves="results/{study}/curves.csv",
    output:
        fit="results/{study}/fit/fit.json",
        predictions="results/{study}/fit/predictions.csv",
    params:
        flags=fit_flags,
        out=lambda wildcards, output: os.path.dirname(output.fit),
    resources:
        cpu_busy=1,
    log:
        "results/{study}/logs/fit.log",
    shell:
        "flops-fit fit {input.runs} --curves {input.curves} --out {params.out} {params.flags} > {log} 2>&1"
