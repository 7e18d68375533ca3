"""flops-fit: plan, train, fit and report compute-optimal scaling laws.

    snakemake --cores 8                          # the default study (config/config.yaml), locally
    snakemake --profile profiles/slurm           # training jobs on a SLURM cluster's GPU nodes
    snakemake --configfile config/studies/X.yaml --cores 8

The logic lives in the flops_fit library (src/flops_fit); the rules only wire files together.
"""

import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))
# Jobs run this checkout's library too, also inside the conda envs of envs/ (which hold only the
# dependencies): src/ on their PYTHONPATH, and workflow/bin/flops-fit as the last resort on PATH.
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    PATH=os.pathsep.join([os.environ.get("PATH", ""), str(Path(workflow.basedir) / "workflow" / "bin")]),
)
from flops_fit.config import ConfigError, check_config, load_yaml  # noqa: E402


configfile: "config/config.yaml"


try:
    for _path in workflow.configfiles:  # read strictly: a key given twice is refused, not dropped
        load_yaml(_path)
    CONFIG = check_config(config)  # schema: src/flops_fit/config.schema.yaml
except ConfigError as err:
    sys.exit(f"flops-fit: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/lr_plan.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/lr.smk"
include: "workflow/rules/adaptive.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/compare.smk"


rule all:
    default_target: True
    input:
        [study_outputs(study) for study in STUDIES],
        comparison_outputs(),
