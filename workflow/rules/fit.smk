# Plan table, aggregation of the runs, and the scaling-law fit. All cheap: local on clusters.


localrules:
    plan,
    aggregate,
    fit,


rule plan:
    input:
        lr_gate,  # the fitted learning-rate rule first, when the study has a sweep (lr_plan.smk)
    output:
        plan="results/{study}/plan.tsv",
    log:
        "results/{study}/logs/plan.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        tsv=lambda wildcards: plan_tsv(list(grid_plan(wildcards.study).values())),
    shell:
        "printf '%s' {params.tsv:q} > {output.plan} 2> {log}"


rule aggregate:
    input:
        runs=run_jsons,
    output:
        runs="results/{study}/runs.csv",
        curves="results/{study}/curves.csv",
        provenance=report(
            "results/{study}/provenance.csv",
            caption="../report/provenance.rst",
            category="{study}",
            subcategory="Provenance",
            labels={"study": "{study}", "table": "provenance"},
        ),
    log:
        "results/{study}/logs/aggregate.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        max_epochs=lambda wildcards: study_cfg(wildcards)["fit"]["max_epochs"],
    shell:
        "flops-fit aggregate {input.runs} --runs {output.runs} --curves {output.curves}"
        " --provenance {output.provenance} --max-epochs {params.max_epochs} > {log} 2>&1"


rule fit:
    input:
        runs="results/{study}/runs.csv",
        curves="results/{study}/curves.csv",
        lr_rule=lr_rule_json,  # recorded in fit.json when the study has an lr sweep
    output:
        fit="results/{study}/fit/fit.json",
        predictions="results/{study}/fit/predictions.csv",
    log:
        "results/{study}/logs/fit.log",
    conda:
        "../../envs/analysis.yaml"
    resources:
        cpu_busy=1,
    params:
        fit=lambda wildcards: study_cfg(wildcards)["fit"],
        budgets=lambda wildcards: predict_budgets(wildcards.study),
        out=lambda wildcards, output: os.path.dirname(output.fit),
    script:
        "../../scripts/fit.py"
