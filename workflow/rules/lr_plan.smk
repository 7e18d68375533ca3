# Planning of the learning-rate stage (the rules are in lr.smk): the sweep's runs of each study
# with training.lr_scaling: sweep, and the grid planned from the fitted rule once it exists.
import functools

from flops_fit.lr_sweep import plan_sweep, read_rule

SWEEPS = {}
for _study in STUDIES:
    if uses_sweep(CONFIG["studies"][_study]):
        try:
            SWEEPS[_study] = {run["run_id"]: run for run in plan_sweep(_study, CONFIG["studies"][_study])}
        except ConfigError as err:
            sys.exit(f"flops-fit: {err}")


def sweep_spec(wildcards):
    return json.dumps(SWEEPS[wildcards.study][wildcards.run_id], sort_keys=True)


def sweep_jsons(wildcards):
    return [f"results/{wildcards.study}/lr/runs/{r}.json" for r in SWEEPS[wildcards.study]]


def lr_gate(wildcards):
    """Inputs of a job planned from the study's rule: none, once the rule exists. Before, the
    checkpoint's get() raises Snakemake's incomplete-checkpoint signal, which makes rule.json
    this job's input until the checkpoint has run; then the job is planned again."""
    if wildcards.study in SWEEPS:
        checkpoints.lr_rule.get(study=wildcards.study)
    return []


def lr_rule_json(wildcards):
    """The study's fitted learning-rate rule, an input of its fit (none without a sweep)."""
    return f"results/{wildcards.study}/lr/rule.json" if wildcards.study in SWEEPS else []


@functools.lru_cache(maxsize=None)
def _planned(study, rule_text):
    lr_rule = json.loads(rule_text) if rule_text else None
    runs, trunks = plan_study_and_trunks(study, CONFIG["studies"][study], lr_rule)
    return {run["run_id"]: run for run in runs}, {t["run_id"]: t for t in trunks}


def _swept(study):
    path = checkpoints.lr_rule.get(study=study).output.lr_rule
    return _planned(study, json.dumps(read_rule(path), sort_keys=True))


def grid_plan(study):
    """The study's grid (run_id -> spec), planned with its fitted learning-rate rule when it
    has a sweep (call only from jobs gated by lr_gate: raises before the checkpoint ran).
    """
    return _swept(study)[0] if study in SWEEPS else PLANS[study]


def trunk_plan(study):
    """The study's trunk segments (grid.mode branches; trunk_id -> spec), planned as grid_plan
    plans the runs, so that a trunk trains at its size's swept rate."""
    return _swept(study)[1] if study in SWEEPS else TRUNKS[study]


def lr_outputs(study):
    """What the learning-rate stage adds to `rule all` (nothing for other studies)."""
    if study not in SWEEPS:
        return []
    formats = CONFIG["studies"][study]["figures"]["formats"]
    return [
        f"results/{study}/lr/rule.json",
        *(f"results/{study}/lr/sweep.{ext}" for ext in formats),
    ]
