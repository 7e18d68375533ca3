# Planning and helpers shared by the rules: the grid is a pure function of the config,
# computed once at parse time (flops_fit.plan), with deterministic per-run params.
import json
import os
import re

from flops_fit.branches import job_flops
from flops_fit.design import design_warnings
from flops_fit.lr_sweep import read_rule, uses_sweep
from flops_fit.plan import plan_study, plan_study_and_trunks, plan_tsv

STUDIES = CONFIG["active_studies"]
PLANS = {}  # run_id -> spec; a study with an lr sweep has its rates once rule.json exists (lr.smk)
TRUNKS = {}  # trunk_id -> spec of a trunk segment (grid.mode branches, flops_fit.branches)
for _study in STUDIES:
    _cfg = CONFIG["studies"][_study]
    _rule = read_rule(f"results/{_study}/lr/rule.json") if uses_sweep(_cfg) else None
    try:
        _runs, _trunks = plan_study_and_trunks(_study, _cfg, _rule)
    except ConfigError as err:
        sys.exit(f"flops-fit: {err}")
    PLANS[_study] = {run["run_id"]: run for run in _runs}
    TRUNKS[_study] = {t["run_id"]: t for t in _trunks}
    for _line in design_warnings(_study, _cfg, list(PLANS[_study].values())):
        print(f"flops-fit: warning: {_line}", file=sys.stderr)  # one line each (docs/grid-design.md)


ADAPTIVE = [s for s in STUDIES if CONFIG["studies"][s]["grid"]["mode"] == "adaptive"]
ADAPTIVE_RUN_ID = r"C[0-9.]+e-?[0-9]+-d[0-9]+"  # run ids planned round by round (flops_fit.plan.run_id)


def _datasets():
    """Data configs by dataset id; two studies sharing an id must agree on it."""
    found = {}
    for study in STUDIES:
        data = CONFIG["studies"][study]["data"]
        if found.setdefault(data["name"], data) != data:
            sys.exit(
                f"flops-fit: config error at studies.{study}.data: dataset name {data['name']!r} is used by "
                "another study with different settings; give this one its own data.name"
            )
    return found


DATASETS = _datasets()


wildcard_constraints:
    study="|".join(re.escape(s) for s in STUDIES),
    run_id="|".join(
        sorted({re.escape(r) for plan in PLANS.values() for r in plan}) + ([ADAPTIVE_RUN_ID] if ADAPTIVE else [])
    ),
    round=r"\d+",
    trunk_id="|".join(sorted({re.escape(t) for trunks in TRUNKS.values() for t in trunks})) or "no-trunks",
    dataset="|".join(re.escape(d) for d in DATASETS),


# No oversubscription on a workstation: `--cores 8` on a 2-core machine still runs at most as
# many busy training threads as the machine has cores (one torch thread per process is the
# fastest here). On a cluster, SLURM does the counting.
MACHINE_CORES = len(os.sched_getaffinity(0))
if workflow.local_exec and "cpu_busy" not in workflow.global_resources:
    workflow.register_resource("cpu_busy", MACHINE_CORES)


def study_cfg(wildcards):
    return CONFIG["studies"][wildcards.study]


def run_ids(study):
    return list(PLANS[study])


def run_spec(wildcards):
    """The run's spec as sorted-keys JSON: a deterministic param, so exactly the runs whose
    spec changed are rerun (with an lr sweep: planned from the fitted rule, lr_plan.smk)."""
    return json.dumps(job_spec(wildcards), sort_keys=True)


def job_spec(wildcards):
    """The spec of a train job (a run of the grid) or a trunk job (a trunk segment of grid.mode
    branches: flops_fit.branches)."""
    if "trunk_id" in wildcards.keys():
        return trunk_plan(wildcards.study)[wildcards.trunk_id]
    if wildcards.run_id in SWEEPS.get(wildcards.study, {}):  # a run of the lr sweep (lr_plan.smk)
        return SWEEPS[wildcards.study][wildcards.run_id]
    if wildcards.study in ADAPTIVE:  # planned round by round (adaptive.smk)
        return adaptive_spec(wildcards.study, wildcards.run_id)
    return grid_plan(wildcards.study)[wildcards.run_id]


def trunk_marker(study, trunk_id):
    return f"results/{study}/trunks/{trunk_id}.json"


def start_marker(wildcards):
    """The trunk marker a branch (or a later trunk segment) starts from; none otherwise."""
    if not TRUNKS[wildcards.study]:
        return {}
    trunk = job_spec(wildcards).get("trunk") or {}
    start = trunk.get("previous") if "trunk_id" in wildcards.keys() else trunk.get("id")
    return {"start": trunk_marker(wildcards.study, start)} if start else {}


def start_option(wildcards, input):
    return f"--start {input.start}" if "start" in input.keys() else ""


def run_jsons(wildcards):
    ids = adaptive_run_ids(wildcards.study) if wildcards.study in ADAPTIVE else run_ids(wildcards.study)
    return [f"results/{wildcards.study}/runs/{r}.json" for r in ids]


def data_dir(study):
    return f"results/data/{CONFIG['studies'][study]['data']['name']}"


def predict_budgets(study):
    """The compute-optimal table's budgets: the studied ones, 10x and 100x the largest, and
    any listed in fit.predict_budgets."""
    cfg = CONFIG["studies"][study]
    studied = sorted(cfg["grid"]["budgets"])
    return sorted({*studied, 10 * studied[-1], 100 * studied[-1], *cfg["fit"]["predict_budgets"]})


def study_outputs(study):
    """Everything `rule all` builds for one study."""
    return [
        f"results/{study}/plan.tsv",
        *lr_outputs(study),  # the learning-rate sweep, rule and figure (lr.smk)
        *(f"results/{study}/runs/{run}.json" for run in run_ids(study)),  # a deleted run is retrained
        f"results/{study}/runs.csv",
        f"results/{study}/fit/fit.json",
        f"results/{study}/fit/predictions.csv",
        *presentation_outputs(study),
    ]


def planned_spec(wildcards):
    """The job's spec as planned at parse time (no checkpoint is waited for)."""
    study = wildcards.study
    if "trunk_id" in wildcards.keys():
        return TRUNKS[study][wildcards.trunk_id]
    if study in ADAPTIVE:
        return adaptive_spec(study, wildcards.run_id)
    return PLANS[study].get(wildcards.run_id) or SWEEPS[study][wildcards.run_id]


def train_runtime_minutes(wildcards, attempt):
    """SLURM wall time of one training job, in minutes (the `runtime` resource; unused locally):
    planned FLOPs / (cluster.sustained_flops_per_s x GPUs) x cluster.runtime_safety_factor, at
    least cluster.min_runtime_minutes, times the attempt, so a run killed at its wall time asks
    for twice as long when Snakemake resubmits it (it resumes from its checkpoint)."""
    cluster = CONFIG["cluster"]
    flops = job_flops(planned_spec(wildcards))  # a branch trains its cooldown, a trunk segment its stretch
    devices = max(1, cluster["gpus_per_run"]) * study_cfg(wildcards)["training"]["processes"]
    seconds = flops / (cluster["sustained_flops_per_s"] * devices) * cluster["runtime_safety_factor"]
    return max(cluster["min_runtime_minutes"], -(-int(seconds) // 60)) * attempt


def train_processes(wildcards):
    return study_cfg(wildcards)["training"]["processes"]


def train_launcher(wildcards):
    """`flops-fit`, or the same CLI under torchrun for data-parallel runs (one node, DDP)."""
    n = train_processes(wildcards)
    return "flops-fit" if n == 1 else f"torchrun --standalone --nproc-per-node {n} -m flops_fit.cli"


def train_inputs(wildcards):
    """The prepared data, unless the study trains with the mock backend or a custom loader (the
    training job calls the loader itself)."""
    cfg = study_cfg(wildcards)
    if "trunk_id" in wildcards.keys() or wildcards.run_id in PLANS[wildcards.study]:
        lr_gate(wildcards)  # a grid run or trunk of a study with an lr sweep waits for the rule (lr_plan.smk)
    if cfg["training"]["backend"] == "mock" or cfg["data"]["source"] == "custom":
        return start_marker(wildcards)
    folder = data_dir(wildcards.study)
    data = {"train": f"{folder}/train.bin", "val": f"{folder}/val.bin", "meta": f"{folder}/meta.json"}
    return data | start_marker(wildcards)
