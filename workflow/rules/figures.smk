# Presentation: figures, tables, the multi-study comparison and what `snakemake --report` shows.
# These rules read only runs.csv, curves.csv, fit.json and predictions.csv (never refit), so a
# change of `studies.<name>.figures` (a rule param) reruns the figure rules and nothing else
# (besides study_config, the copy of the study's config that the report shows).
# One figures job per study and file format renders every figure in flops_fit.figures.FIGURES;
# the comparison goes through `python -m flops_fit.figures.comparison` (no CLI subcommand yet).
import yaml

from flops_fit.figures import FIGURES, TITLES
from flops_fit.report import HEADLINE, presentation_files, target_budgets
from flops_fit.tables import FORMATS as TABLE_FORMATS
from flops_fit.tables import NUMBERS as NUMBERS_TEX
from flops_fit.tables import TABLES


report: "../report/workflow.rst"


localrules:
    figures,
    tables,
    headline,
    study_config,
    comparison,


wildcard_constraints:
    ext="pdf|png|svg",


# Every figure and table file of a study (and the comparison when several studies are active);
# `rule all` requests them. The figure formats come from `studies.<name>.figures.formats`.
# In the report (`snakemake --report`): the headline page first (workflow/report/workflow.rst
# includes it), then per study the figures in reading order (the "figure" label sorts them; PNG
# is the default view, "format" toggles to the PDF) and the tables as formatted HTML.
FORMAT_LABELS = {"png": "image (PNG)", "pdf": "vector (PDF)", "svg": "vector (SVG)"}  # PNG sorts first: the default
presentation_outputs = lambda study: presentation_files(study, CONFIG["studies"][study]["figures"]["formats"], STUDIES)


rule figures:
    input:
        runs="results/{study}/runs.csv",
        curves="results/{study}/curves.csv",
        fit="results/{study}/fit/fit.json",
        predictions="results/{study}/fit/predictions.csv",
    output:
        **{
            name: report(
                f"results/{{study}}/figures/{name}.{{ext}}",
                caption=f"../report/{name}.rst",
                category="{study}",
                subcategory="Figures",
                labels=lambda wildcards, i=i, name=name: {
                    "figure": f"{i}. {TITLES[name]}",
                    "format": FORMAT_LABELS[wildcards.ext],
                },
            )
            for i, name in enumerate(FIGURES, start=1)
        },
    log:
        "results/{study}/logs/figures_{ext}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        width=lambda wildcards: CONFIG["studies"][wildcards.study]["figures"]["width"],
        out=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "flops-fit figures --runs {input.runs} --curves {input.curves} --fit {input.fit}"
        " --predictions {input.predictions} --out {params.out} --width {params.width}"
        " --formats {wildcards.ext} > {log} 2>&1"


rule tables:
    input:
        runs="results/{study}/runs.csv",
        fit="results/{study}/fit/fit.json",
        predictions="results/{study}/fit/predictions.csv",
    output:
        **{
            f"{name}_{ext}": (
                report(
                    f"results/{{study}}/tables/{name}.{ext}",
                    caption=f"../report/table_{name}.rst",
                    category="{study}",
                    subcategory="Tables",
                    labels={"study": "{study}", "table": name},
                )
                if ext == "html"
                else f"results/{{study}}/tables/{name}.{ext}"
            )
            for name in TABLES
            for ext in TABLE_FORMATS
        },
        numbers=f"results/{{study}}/tables/{NUMBERS_TEX}",
    log:
        "results/{study}/logs/tables.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.numbers),
    shell:
        "flops-fit tables --fit {input.fit} --predictions {input.predictions} --runs {input.runs}"
        " --out {params.out} > {log} 2>&1"


rule headline:
    input:
        runs="results/{study}/runs.csv",
        fit="results/{study}/fit/fit.json",
        predictions="results/{study}/fit/predictions.csv",
    output:
        headline=report(
            f"results/{{study}}/{HEADLINE}",
            caption="../report/headline.rst",
            category="{study}",
            subcategory="Headline",
            labels={"study": "{study}", "page": "headline"},
        ),
    log:
        "results/{study}/logs/headline.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        budgets=lambda wildcards: " ".join(
            f"--budget {c:g}" for c in target_budgets(CONFIG["studies"][wildcards.study])
        ),
    shell:
        "flops-fit headline --fit {input.fit} --predictions {input.predictions} --runs {input.runs}"
        " {params.budgets} --study {wildcards.study} --out {output.headline} > {log} 2>&1"


rule study_config:
    output:
        config=report(
            "results/{study}/config.yaml",
            caption="../report/config.rst",
            category="{study}",
            subcategory="Configuration",
            labels={"study": "{study}", "file": "config.yaml"},
        ),
    log:
        "results/{study}/logs/study_config.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        text=lambda wildcards: yaml.safe_dump(
            {wildcards.study: CONFIG["studies"][wildcards.study]}, sort_keys=True, default_flow_style=False
        ),
    shell:
        "printf '%s' {params.text:q} > {output.config} 2> {log}"


rule comparison:
    input:
        fits=expand("results/{study}/fit/fit.json", study=STUDIES),
        predictions=expand("results/{study}/fit/predictions.csv", study=STUDIES),
    output:
        figure=report(
            "results/comparison/figures/comparison.{ext}",
            caption="../report/comparison.rst",
            category="Comparison",
            labels={"figure": "comparison", "format": "{ext}"},
        ),
    log:
        "results/comparison/logs/comparison_{ext}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        studies=" ".join(f"{s}=results/{s}/fit/fit.json" for s in STUDIES),
    shell:
        "python -m flops_fit.figures.comparison {params.studies} --out results/comparison/figures"
        " --formats {wildcards.ext} > {log} 2>&1"
