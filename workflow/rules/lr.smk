# The learning-rate stage of studies with training.lr_scaling: sweep (flops_fit.lr_sweep):
# train the sweep's runs, fit the rule lr(N) = lr_ref (N / n_ref)^exponent, draw the sweep.
# The rule is a checkpoint: each grid run's spec (its params) is planned from rule.json once it
# exists (lr_plan.smk), so the grid waits for the sweep on the first run and later reruns only
# the runs whose rate the rule moves (rule.json is never an input file of the grid: a refit that
# gives the same rates reruns nothing).


localrules:
    lr_rule,
    lr_figure,


use rule train as lr_train with:
    output:
        run="results/{study}/lr/runs/{run_id}.json",
    log:
        "results/{study}/logs/lr/{run_id}.log",
    wildcard_constraints:
        run_id="|".join(sorted({re.escape(r) for sweep in SWEEPS.values() for r in sweep})) or "$^",
    params:
        spec=sweep_spec,
        data=lambda wildcards: data_dir(wildcards.study),
        checkpoints="results/{study}/checkpoints/lr/{run_id}",
        launcher=train_launcher,


checkpoint lr_rule:
    input:
        runs=sweep_jsons,
    output:
        lr_rule="results/{study}/lr/rule.json",
        table="results/{study}/lr/sweep.csv",
    log:
        "results/{study}/logs/lr/rule.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        convention=lambda wildcards: study_cfg(wildcards)["accounting"]["params"],
    shell:
        "flops-fit lr-rule {input.runs} --params {params.convention} --rule {output.lr_rule}"
        " --table {output.table} > {log} 2>&1"


rule lr_figure:
    input:
        lr_rule="results/{study}/lr/rule.json",
        table="results/{study}/lr/sweep.csv",
    output:
        figure=report(
            "results/{study}/lr/sweep.{ext}",
            caption="../report/lr_sweep.rst",
            category="{study}",
            subcategory="Learning rate",
            labels={"study": "{study}", "figure": "lr sweep", "format": "{ext}"},
        ),
    log:
        "results/{study}/logs/lr/figure_{ext}.log",
    wildcard_constraints:
        ext="pdf|png|svg",
    conda:
        "../../envs/analysis.yaml"
    params:
        width=lambda wildcards: study_cfg(wildcards)["figures"]["width"],
    shell:
        "flops-fit lr-figure --rule {input.lr_rule} --table {input.table} --out {output.figure}"
        " --formats {wildcards.ext} --width {params.width} > {log} 2>&1"
