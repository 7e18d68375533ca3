"""`snakemake --profile profiles/slurm` against a real SLURM cluster (docs/slurm.md).

The module brings up a single-node cluster on this machine with tests/slurm/cluster.sh (slurmctld,
slurmd and munged from the Debian packages that tests/slurm/install.sh installs; 8 fake GPUs
declared as GRES), runs tiny studies through `sbatch` with the shipped profile plus the test-only
overrides in tests/slurm/profile/, and tears the cluster down. It skips, with the reason, where it
cannot run (not root, or slurm-wlm/munge not installed).

    bash tests/slurm/install.sh && .venv/bin/pytest -m slurm tests/test_slurm.py -v   (~3 min)

What is checked:
* every training run executes inside its own SLURM job and gets the fake GPU it asked for
  (`provenance.slurm_job_id`, `provenance.cuda_visible_devices` of the run JSONs); the cheap
  rules run locally (no SLURM log of theirs);
* a training job cancelled with `scancel` mid-run is resubmitted by Snakemake, one requeued by
  SLURM (as at preemption) restarts under its job id; both resume from their checkpoints
  (`provenance.resumed_from_step`) and end with exactly the losses of an uninterrupted run;
* job groups batch tiny runs into few SLURM jobs;
* local runs do not pay for the plugin: with slurm client tools installed and no cluster, a
  `snakemake -n` start spends no noticeable time in `scontrol`;
* the profile installs into the user's config dir and resolves as `--profile slurm`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import BIN, ROOT, tiny_config, write_config

pytestmark = pytest.mark.slurm

CLUSTER_SH = ROOT / "tests" / "slurm" / "cluster.sh"
PROFILES = ["--profile", str(ROOT / "profiles" / "slurm"), "--profile", str(ROOT / "tests" / "slurm" / "profile")]
SBIN_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
CANCELLED_RUN = "C1.6e9-d8"  # the longest run of the study below (384 steps): `scancel`led mid-run
REQUEUED_RUN = "C1.6e9-d12"  # the next longest (238 steps): requeued mid-run, as at preemption


def _why_no_cluster() -> str | None:
    if sys.platform != "linux":
        return "SLURM tests need Linux"
    if os.geteuid() != 0:
        return "SLURM tests need root (they start slurmctld/slurmd/munged as root)"
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel")
               if shutil.which(b, path=SBIN_PATH) is None]
    if missing:
        return f"slurm-wlm/munge not installed (missing {', '.join(missing)}): run `bash tests/slurm/install.sh`"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed in this environment"
    return None


def _env(workdir: Path | None = None) -> dict:
    """The venv first on PATH (the jobs inherit it through sbatch --export=ALL), HF offline, and no
    SLURM_* of an enclosing job or a stray SLURM_CONF (the cluster is found through /run/slurm/conf)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    if workdir is not None:
        env["HF_HOME"] = str(workdir / ".hf")
    return env


def _snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
            "--configfile", str(workdir / "config.yaml"), *args]


def _cluster(action: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER_SH), action], capture_output=True, text=True, timeout=120)


def _stop(proc: subprocess.Popen) -> None:
    """Snakemake ignores SIGTERM while it waits on cluster jobs: SIGINT makes it scancel them."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- no cluster needed -----------------------------------------------------------------------


def test_local_start_does_not_wait_for_slurm(tmp_path):
    """Snakemake imports every installed executor plugin at start; the SLURM plugin then runs
    `scontrol show config` (for a help text), which takes ~10 s when a slurm.conf names an
    unreachable controller. Local runs here must not pay that: with the slurm client tools
    installed and no cluster configured (this machine outside the SLURM tests: cluster.sh keeps
    its config out of /etc/slurm), the start is fast and scontrol returns at once."""
    if shutil.which("scontrol") is None or shutil.which("sinfo") is None:
        pytest.skip("slurm client tools not installed: nothing to measure (run tests/slurm/install.sh)")
    if _cluster("status").returncode == 0:
        pytest.skip("a test cluster is up on this machine; this test measures the machine without one")
    shim, calls = tmp_path / "shim", tmp_path / "scontrol-calls.txt"
    shim.mkdir()
    real = shutil.which("scontrol")
    (shim / "scontrol").write_text(
        "#!/bin/sh\n"
        't0=$(date +%s.%N)\n'
        f'"{real}" "$@"\n'
        "rc=$?\n"
        f'echo "$t0 $(date +%s.%N) $*" >> "{calls}"\n'
        "exit $rc\n"
    )
    (shim / "scontrol").chmod(0o755)
    env = _env()
    env.pop("SLURM_CONF", None)
    env["PATH"] = f"{shim}:{env['PATH']}"
    walls = []
    for _ in range(2):  # best of two: the first may pay for cold file caches
        t0 = time.monotonic()
        proc = subprocess.run([str(BIN / "snakemake"), "-n", "--cores", "1", "-q"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        walls.append(time.monotonic() - t0)
        assert proc.returncode == 0, proc.stderr[-3000:]
    spent = [float(b) - float(a) for a, b, *_ in (line.split() for line in calls.read_text().splitlines())] \
        if calls.exists() else []
    print(f"local `snakemake -n` start: {min(walls):.1f} s (runs {', '.join(f'{w:.1f}' for w in walls)}); "
          f"scontrol calls: {len(spent)}, {sum(spent):.2f} s in total")
    assert sum(spent) < 1.0, f"scontrol took {sum(spent):.1f} s during local starts"
    assert min(walls) < 5.0


def test_profile_installs_into_the_user_config_dir(tmp_path):
    """`snakemake --profile profiles/slurm` works as typed (a path), and after the one-step install
    (`make install-slurm-profile`) `--profile slurm` resolves to the user's copy."""
    env = _env()
    env["HOME"] = str(tmp_path)
    env.pop("XDG_CONFIG_HOME", None)
    if shutil.which("make"):
        subprocess.run(["make", "-s", "install-slurm-profile"], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True, timeout=60)
    else:
        (tmp_path / ".config/snakemake/slurm").mkdir(parents=True)
        shutil.copy(ROOT / "profiles/slurm/config.yaml", tmp_path / ".config/snakemake/slurm/config.yaml")
    installed = tmp_path / ".config" / "snakemake" / "slurm" / "config.yaml"
    assert installed.read_text() == (ROOT / "profiles" / "slurm" / "config.yaml").read_text()
    for profile in ("profiles/slurm", "slurm"):
        proc = subprocess.run([str(BIN / "snakemake"), "--profile", profile, "-n", "-q"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"Using profile {profile}" in proc.stderr or f"Using profiles {profile}" in proc.stderr


def test_profile_is_documented_and_sane():
    """Every entry of the shipped profile is commented; the GPU resource is the plugin's `gpu`."""
    text = (ROOT / "profiles" / "slurm" / "config.yaml").read_text()
    profile = yaml.safe_load(text)
    assert profile["executor"] == "slurm"
    assert profile["rerun-incomplete"] is True and profile["restart-times"] >= 1 and profile["slurm-requeue"]
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith((" ", "#")):  # a top-level key: a comment right above it
            assert lines[i - 1].startswith("#"), f"profiles/slurm/config.yaml: {line!r} has no comment"
    assert "slurm_partition" not in profile.get("default-resources", {})
    assert "slurm_account" not in profile.get("default-resources", {})
    train = (ROOT / "workflow" / "rules" / "train.smk").read_text()
    assert "gpu=" in train and "gpus=" not in train and "runtime=train_runtime_minutes" in train


# -- on the cluster --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    reason = _why_no_cluster()
    if reason:
        pytest.skip(reason)
    was_up = _cluster("status").returncode == 0
    t0 = time.monotonic()
    up = _cluster("up")
    assert up.returncode == 0, up.stdout + up.stderr
    print(f"\nSLURM test cluster up in {time.monotonic() - t0:.1f} s: {up.stderr.strip()}")
    yield
    if not was_up:
        down = _cluster("down")
        assert down.returncode == 0, down.stdout + down.stderr


def _tiny_slurm_config(backend: str) -> dict:
    """2 budgets x 3 sizes of the conftest tiny study; checkpoints every 5 steps; each run asks
    for one (fake) GPU, one CPU and 1 GB for at least 5 minutes."""
    config = tiny_config(backend)
    study = config["studies"]["tiny"]
    study["grid"].update(budgets=[4e8, 1.6e9], sizes=[8, 12, 16])
    study["grid"].pop("centred", None)
    study["training"]["checkpoint_every_steps"] = 5
    config["cluster"] = {"sustained_flops_per_s": 1e9, "runtime_safety_factor": 3.0, "min_runtime_minutes": 5,
                         "gpus_per_run": 1, "cpus_per_gpu": 1, "mem_mb": 1000}
    return config


def _runs(workdir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((workdir / "results/tiny/runs").glob("*.json"))}


def _interrupt(run_id: str, job_id: str) -> None:
    if run_id == CANCELLED_RUN:  # the job ends CANCELLED; Snakemake resubmits it (restart-times)
        subprocess.run(["scancel", job_id], check=True, env=_env(), timeout=30)
    else:  # SLURM requeues it itself under the same job id (what preemption does with --requeue)
        subprocess.run(["scontrol", "requeue", job_id], check=True, env=_env(), timeout=30)


def _release_if_held(job_id: str) -> bool:
    """A requeued job waits ~2 minutes (reason BeginTime) before it may start again: release it
    as soon as it is back in the queue. True once it is no longer held."""
    state = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T %r"], capture_output=True, text=True,
                           env=_env(), timeout=30).stdout.split()
    if state[:2] == ["PENDING", "BeginTime"]:
        subprocess.run(["scontrol", "update", f"jobid={job_id}", "starttime=now"], capture_output=True,
                       env=_env(), timeout=30)
        return False
    # right after `scontrol requeue` the job is still COMPLETING, then PENDING (BeginTime)
    return not state or state[0] in ("RUNNING", "COMPLETED")


@pytest.fixture(scope="module")
def slurm_study(cluster, tmp_path_factory):
    """The tiny study run to completion with `snakemake --profile profiles/slurm`; while it runs,
    the jobs of CANCELLED_RUN and REQUEUED_RUN are interrupted as soon as they have written their
    first checkpoint."""
    workdir = tmp_path_factory.mktemp("slurm")
    write_config(workdir, _tiny_slurm_config("torch"))
    pending = {CANCELLED_RUN, REQUEUED_RUN}
    interrupted, held = {}, set()
    log = (workdir / "snakemake.log").open("w")
    t0 = time.monotonic()
    proc = subprocess.Popen(_snakemake_cmd(workdir, *PROFILES, "results/tiny/runs.csv"), env=_env(workdir),
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        while proc.poll() is None and time.monotonic() - t0 < 240:
            for run_id in sorted(pending):
                if (workdir / "results/tiny/checkpoints" / run_id / "state.pt").exists():
                    logs = workdir / ".snakemake/slurm_logs/rule_train" / f"tiny_{run_id}"
                    job_ids = sorted(int(p.stem) for p in logs.glob("*.log"))
                    if job_ids:
                        interrupted[run_id] = str(job_ids[-1])
                        _interrupt(run_id, interrupted[run_id])
                        pending.discard(run_id)
                        held |= {interrupted[run_id]} if run_id == REQUEUED_RUN else set()
                        print(f"interrupted {run_id} (job {job_ids[-1]}) at {time.monotonic() - t0:.1f} s")
            held = {job_id for job_id in held if not _release_if_held(job_id)}
            time.sleep(0.05 if pending else 0.5)
        if proc.poll() is None:
            _stop(proc)
            pytest.fail("the SLURM study did not finish within 240 s; see " + str(workdir / "snakemake.log"))
    finally:
        _stop(proc)
        log.close()
    wall = time.monotonic() - t0
    output = (workdir / "snakemake.log").read_text()
    assert proc.returncode == 0, output[-6000:]
    print(f"tiny study (6 runs) through sbatch: {wall:.0f} s")
    return {"workdir": workdir, "interrupted": interrupted, "log": output, "wall_s": wall}


@pytest.fixture(scope="module")
def uninterrupted(slurm_study, tmp_path_factory):
    """The interrupted runs trained again locally in one go, from scratch: the reference losses."""
    workdir, tmp = slurm_study["workdir"], tmp_path_factory.mktemp("reference")
    specs = tmp / "specs.json"
    runs = _runs(workdir)
    specs.write_text(json.dumps([runs[r]["spec"] for r in (CANCELLED_RUN, REQUEUED_RUN)]))
    script = ("import json, sys; from flops_fit.train import train_run\n"
              "for spec in json.load(open(sys.argv[1])):\n"
              "    r = spec['run_id']\n"
              "    train_run(spec, sys.argv[2], f'{sys.argv[3]}/{r}.json', f'{sys.argv[3]}/ckpt-{r}', threads=1,"
              " log=lambda *a: None)\n")
    subprocess.run([str(BIN / "python"), "-c", script, str(specs), str(workdir / "results/data/shakespeare"),
                    str(tmp)], check=True, env=_env(workdir), timeout=300)
    return {r: json.loads((tmp / f"{r}.json").read_text()) for r in (CANCELLED_RUN, REQUEUED_RUN)}


def test_every_training_run_ran_in_its_own_slurm_job_with_a_gpu(slurm_study):
    workdir = slurm_study["workdir"]
    runs = _runs(workdir)
    assert len(runs) == 6 and (workdir / "results/tiny/runs.csv").exists()
    job_ids = {run_id: run["provenance"]["slurm_job_id"] for run_id, run in runs.items()}
    assert all(job_ids.values()), job_ids
    assert len(set(job_ids.values())) == 6, f"runs shared a SLURM job: {job_ids}"
    for run_id, run in runs.items():
        # Slurm exported the index of the fake GPU it allocated (GRES gpu, --gpus=1).
        cvd = run["provenance"]["cuda_visible_devices"]
        assert cvd is not None and cvd.isdigit(), (run_id, cvd)
        assert run["status"] == "ok"
        # the SLURM log of the job the run JSON names, kept by slurm-keep-successful-logs
        assert (workdir / ".snakemake/slurm_logs/rule_train" / f"tiny_{run_id}" / f"{job_ids[run_id]}.log").exists()
    # The cheap rules are localrules: only prepare_data and train went through sbatch.
    submitted = {p.name for p in (workdir / ".snakemake/slurm_logs").iterdir()}
    assert submitted <= {"rule_train", "rule_prepare_data"}, submitted
    # each training job asked for a GPU, CPUs per GPU, memory and a FLOP-derived wall time
    assert "gpu=1" in slurm_study["log"] and "cpus_per_gpu=1" in slurm_study["log"]
    # All 6 were queued at once (the profile allows 8 jobs): nothing local, such as the login
    # node's core count, caps how many training jobs wait in the SLURM queue.
    first_wave = 0
    for line in slurm_study["log"].splitlines():
        if "(Rule: train)" in line or "Error in rule train" in line:
            break
        first_wave += "has been submitted with SLURM jobid" in line and "rule_train" in line
    assert first_wave == 6, f"only {first_wave} training jobs were queued at once"


def test_cancelled_run_was_resubmitted_and_resumed(slurm_study):
    cancelled = slurm_study["interrupted"].get(CANCELLED_RUN)
    assert cancelled is not None, "the run finished before its job could be cancelled"
    run = _runs(slurm_study["workdir"])[CANCELLED_RUN]
    provenance = run["provenance"]
    assert provenance["slurm_job_id"] != cancelled, "the cancelled job was not resubmitted"
    assert provenance["resumed_from_step"] and 0 < provenance["resumed_from_step"] < run["spec"]["steps"]
    assert f"SLURM-job '{cancelled}' failed" in slurm_study["log"]


def test_requeued_run_resumed_in_the_same_job(slurm_study):
    requeued = slurm_study["interrupted"].get(REQUEUED_RUN)
    assert requeued is not None, "the run finished before its job could be requeued"
    run = _runs(slurm_study["workdir"])[REQUEUED_RUN]
    assert run["provenance"]["slurm_job_id"] == requeued
    assert 0 < (run["provenance"]["resumed_from_step"] or 0) < run["spec"]["steps"]


@pytest.mark.parametrize("run_id", [CANCELLED_RUN, REQUEUED_RUN])
def test_interrupted_run_has_the_losses_of_an_uninterrupted_run(slurm_study, uninterrupted, run_id):
    run, reference = _runs(slurm_study["workdir"])[run_id], uninterrupted[run_id]
    assert reference["provenance"]["resumed_from_step"] is None
    assert run["final"] == reference["final"]
    assert [p["val_loss"] for p in run["curve"]] == [p["val_loss"] for p in reference["curve"]]


def test_job_groups_batch_tiny_runs_into_few_slurm_jobs(cluster, tmp_path):
    """docs/slurm.md, "Many small runs": `--groups train=trainbatch --group-components trainbatch=3
    --set-resource-scopes _cores=local --cores 1` puts the 6 (mock, CPU-only) runs into 2 sbatch jobs
    of 3 runs each. Inside a group job the plugin runs its runs one after the other, so a group asks
    for one run's CPUs and memory and the sum of its runs' wall times (3 x 2 minutes)."""
    config = _tiny_slurm_config("mock")
    config["cluster"].update(gpus_per_run=0, min_runtime_minutes=2, mem_mb=500)
    write_config(tmp_path, config)
    t0 = time.monotonic()
    proc = subprocess.run(
        _snakemake_cmd(tmp_path, *PROFILES, "--groups", "train=trainbatch", "--group-components", "trainbatch=3",
                       "--set-resource-scopes", "_cores=local", "--cores", "1", "--verbose", "results/tiny/runs.csv"),
        env=_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-6000:]
    print(f"6 mock runs as 2 SLURM jobs: {time.monotonic() - t0:.0f} s")
    runs = _runs(tmp_path)
    job_ids = [run["provenance"]["slurm_job_id"] for run in runs.values()]
    assert len(runs) == 6 and None not in job_ids
    assert sorted(job_ids.count(j) for j in set(job_ids)) == [3, 3], job_ids
    assert {p.name for p in (tmp_path / ".snakemake/slurm_logs").iterdir()} == {"group_trainbatch_train"}
    sbatch = [line for line in proc.stderr.splitlines() if line.startswith("sbatch call:")]
    assert len(sbatch) == 2
    for line in sbatch:
        assert " -t 6 " in line and "--cpus-per-task=1" in line and "--mem 500" in line, line


def test_cooldown_branches_run_as_separate_trunk_and_branch_jobs(cluster, tmp_path):
    """grid.mode branches (flops_fit.branches) through the profile: every trunk segment and every
    branch is its own sbatch job, and each branch starts from its trunk's marker (mock backend)."""
    config = _tiny_slurm_config("mock")
    config["cluster"].update(gpus_per_run=0, min_runtime_minutes=2, mem_mb=500)
    config["studies"]["tiny"]["grid"]["mode"] = "branches"
    config["studies"]["tiny"]["training"]["schedule"] = "wsd"
    write_config(tmp_path, config)
    proc = subprocess.run(_snakemake_cmd(tmp_path, *PROFILES, "results/tiny/runs.csv"), env=_env(tmp_path),
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-6000:]
    runs = _runs(tmp_path)
    trunks = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "results/tiny/trunks").glob("*.json")}
    assert len(runs) == 6 and len(trunks) == 6  # 3 sizes x 2 branch points
    job_ids = [r["provenance"]["slurm_job_id"] for r in [*runs.values(), *trunks.values()]]
    assert None not in job_ids and len(set(job_ids)) == 12, job_ids
    assert all(run["trunk"]["id"] in trunks for run in runs.values())
    cost = sum(run["flops"]["branch"]["cost"] for run in runs.values())
    assert cost < 0.9 * sum(run["flops"]["actual"] for run in runs.values())  # 84%: budgets 4x apart share trunks
