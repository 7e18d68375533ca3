# Adaptive grids (grid.mode adaptive; flops_fit.adaptive): budgets run from small to large in
# rounds. Round r is a Snakemake checkpoint: it reads the runs of rounds 0..r-1 and writes the
# next round's budget and sizes (or done); the runs of a round are then ordinary train jobs.
from flops_fit.adaptive import max_rounds
from flops_fit.plan import plan_run, run_id as plan_run_id


localrules:
    adapt,


def adaptive_spec(study, rid):
    """The spec of an adaptive study's run, from its id (`C{budget}-d{size}`)."""
    cfg = CONFIG["studies"][study]
    size = int(rid.rsplit("-d", 1)[1])
    budgets = [b for b in cfg["grid"]["budgets"] if plan_run_id(b, size) == rid]
    if not budgets:
        raise WorkflowError(f"{rid} is not a run of adaptive study {study}")
    return plan_run(study, cfg, budgets[0], size)


def adaptive_rounds(study, upto=None):
    """[(path, round)] of the study's rounds so far, through the checkpoint (each round waits for
    the one before it), up to `upto` rounds or the one that says done."""
    found = []
    for r in range(max_rounds(CONFIG["studies"][study]) if upto is None else upto):
        path = checkpoints.adapt.get(study=study, round=str(r)).output.round
        with open(path) as fh:
            found.append((path, json.load(fh)))
        if found[-1][1]["done"]:
            break
    return found


def adaptive_run_ids(study, upto=None):
    return [rid for _, rnd in adaptive_rounds(study, upto) for rid in rnd.get("run_ids", [])]


def adapt_inputs(wildcards):
    upto = int(wildcards.round)
    rounds = adaptive_rounds(wildcards.study, upto) if upto else []
    runs = [rid for _, rnd in rounds for rid in rnd.get("run_ids", [])]
    return {
        "rounds": [path for path, _ in rounds],
        "runs": [f"results/{wildcards.study}/runs/{rid}.json" for rid in runs],
    }


def adaptive_study_config(wildcards):
    cfg = CONFIG["studies"][wildcards.study]
    return json.dumps({k: v for k, v in cfg.items() if k not in ("fit", "figures", "description")}, sort_keys=True)


checkpoint adapt:
    input:
        unpack(adapt_inputs),
    output:
        round="results/{study}/adaptive/round-{round}.json",
    log:
        "results/{study}/logs/adapt/round-{round}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        study=adaptive_study_config,
    shell:
        "flops-fit adapt --study {wildcards.study} --study-config {params.study:q} --rounds {input.rounds}"
        " --runs {input.runs} --out {output.round} > {log} 2>&1"
