"""The design's boundaries at run time (import-linter checks the static imports in `make lint`):
the planner loads no torch for the built-in families, a training job loads neither the fitting
stack nor pandas, scipy, matplotlib or YAML (start-up time; benchmarks/bench_startup.py), and an
unknown model family is one clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tiny_study

from flops_fit.config import ConfigError, check_config
from flops_fit.plan import plan_study

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("pandas", "scipy", "matplotlib", "flops_fit.fitting", "flops_fit.tables", "flops_fit.figures")


def _loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter that runs ``code``."""
    probe = code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})  # fmt: skip
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_planning_gpt_and_vit_studies_loads_no_torch():
    code = (
        "from flops_fit.config import check_config; from flops_fit.plan import plan_study\n"
        "import flops_fit.models\n"
        f"study = {tiny_study('mock')!r}\n"
        "cfg = check_config({'active_studies': ['t'], 'studies': {'t': study}})\n"
        "assert len(plan_study('t', cfg['studies']['t'])) == 9\n"
    )
    loaded = _loaded_after(code)
    assert "torch" not in loaded and not loaded & set(HEAVY)


def test_a_training_job_loads_no_fitting_stack(tmp_path):
    study = tiny_study("mock")
    spec = plan_study("t", check_config({"active_studies": ["t"], "studies": {"t": study}})["studies"]["t"])[0]
    out = tmp_path / "run.json"
    code = (
        "from flops_fit.cli import main\n"
        f"assert main(['train', '--spec', {json.dumps(spec)!r}, '--out', {str(out)!r}]) == 0\n"
        "import flops_fit.train\n"  # the torch backend's module too
    )
    loaded = _loaded_after(code)
    assert "torch" in loaded and not loaded & {*HEAVY, "yaml"}, sorted(loaded & {*HEAVY, "yaml"})
    assert json.loads(out.read_text())["status"] == "ok"


def test_unknown_model_family_is_one_clear_error():
    study = tiny_study("mock")
    study["model"]["family"] = "resnet"
    config = check_config({"active_studies": ["t"], "studies": {"t": study}})
    with pytest.raises(ConfigError, match=r"studies\.t\.model\.family: unknown model family 'resnet' "
                                          r"\(allowed values: custom, gpt, vit\)"):  # fmt: skip
        plan_study("t", config["studies"]["t"])
