"""Cooldown branches (grid.mode: branches, flops_fit.branches): the plan, a branch's losses against
an independent WSD run, its FLOPs accounting, and the Snakemake DAG trunk -> branches."""

from __future__ import annotations

import copy
import csv
import json
import shutil

import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config
from test_train import make_data, make_spec, quiet

from flops_fit.branches import branch_plan, training_flops
from flops_fit.config import ConfigError, check_config
from flops_fit.hparams import swept_lr
from flops_fit.plan import plan_study_and_trunks
from flops_fit.train import train_run

WSD = {"schedule": "wsd", "warmup_fraction": 0.05, "decay_fraction": 0.2, "min_lr_ratio": 0.1}


def _runs(*steps, size=8):
    runs = []
    for n in steps:
        spec = make_spec(size=size, steps=n, **WSD)
        runs.append(spec | {"run_id": f"S{n}-d{size}", "tokens_per_step": spec["batch_size"] * 32})
    return runs


def test_plan_cuts_one_trunk_per_size_at_each_branch_point():
    branches, segments = branch_plan("t", _runs(50, 100, 200), WSD)
    assert [s["run_id"] for s in segments] == ["d8-s40", "d8-s80", "d8-s160"]
    assert [s["trunk"]["previous"] for s in segments] == [None, "d8-s40", "d8-s80"]
    assert {s["schedule"]["warmup_steps"] for s in segments} == {2}  # the shortest run's warmup, shared
    for b in branches:
        assert b["schedule"]["warmup_steps"] == 2 and b["steps"] - b["trunk"]["step"] == b["schedule"]["decay_steps"]
        assert min(b["eval_steps"]) > b["trunk"]["step"]
    f = [b["trunk"]["flops"] for b in branches]
    per_step = branches[0]["flops"] / 50
    assert [x["trunk_share"] / per_step for x in f] == [40, 40, 80]
    assert [x["cooldown"] / per_step for x in f] == [10, 20, 40]
    # the bill: one trunk of 160 steps + cooldowns of 70 steps, against 350 steps of independent runs
    assert training_flops(branches, segments) == pytest.approx(230 * per_step)
    assert training_flops(branches) == pytest.approx(350 * per_step)


def test_trunks_do_not_depend_on_the_cooldown():
    """The trunk segments (ids and specs: a trunk job's params) are the same for every cooldown;
    a cooldown longer than branch_fraction branches from an earlier trunk point and trains the
    stable steps up to its decay start itself."""
    _, segments = branch_plan("t", _runs(50, 100, 200), WSD)
    for cooldown in ({"decay_fraction": 0.1}, {"decay_fraction": 0.3}, {"decay_shape": "sqrt", "min_lr_ratio": 0.0}):
        branches, other = branch_plan("t", _runs(50, 100, 200), WSD | cooldown)
        assert other == segments[: len(other)] and len(other) >= 2
    short, _ = branch_plan("t", _runs(50, 100, 200), WSD | {"decay_fraction": 0.1})
    assert [b["trunk"]["step"] for b in short] == [40, 80, 160]
    assert [b["trunk"]["flops"]["stable"] / (b["flops"] / b["steps"]) for b in short] == [5, 10, 20]
    long, other = branch_plan("t", _runs(50, 100, 200), WSD | {"decay_fraction": 0.3})
    assert [b["trunk"]["id"] for b in long] == [None, "d8-s40", "d8-s80"]  # decay starts 35, 70, 140
    assert [s["run_id"] for s in other] == ["d8-s40", "d8-s80"]  # d8-s160 is needed by no branch
    per_step = long[0]["flops"] / 50
    assert training_flops(long, other) == pytest.approx((80 + 50 + 60 + 120) * per_step)
    with pytest.raises(ConfigError, match=r"grid\.branch_fraction: run S50-d8 \(50 steps\) would leave"):
        branch_plan("t", _runs(50, 100), WSD, branch_fraction=0.97)


def test_branches_need_wsd_in_one_line():
    config = tiny_config("mock")
    config["studies"]["tiny"]["grid"]["mode"] = "branches"
    with pytest.raises(ConfigError, match=r"studies\.tiny\.grid\.mode: branches needs training\.schedule wsd"):
        check_config(config)


def test_centred_branches_grid_shares_sizes_across_budgets():
    config = check_config(tiny_config("mock"))
    study = config["studies"]["tiny"]
    del study["grid"]["sizes"]
    study["grid"] |= {"budgets": [1e9, 2e9, 4e9, 8e9], "mode": "branches",
                      "centred": {"points": 3, "span": 4, "budget": 2e9, "n_opt": 2e4, "exponent": 0.5}}  # fmt: skip
    study["training"]["schedule"] = "wsd"
    runs, segments = plan_study_and_trunks("tiny", study)
    sizes = {r["size"] for r in runs}
    assert len(runs) == 12 and len(sizes) < 12 - 4  # a ladder: most sizes serve two budgets or more
    assert len(segments) == len({r["trunk"]["id"] for r in runs})
    assert training_flops(runs, segments) < 0.8 * training_flops(runs)


@pytest.mark.parametrize("decay", [0.2, 0.35])
def test_branch_equals_an_independent_wsd_run_of_the_same_length(tmp_path, decay):
    """On CPU a branch trains exactly the independent run (same warmup): equal losses, 60% of the
    work; with a cooldown longer than branch_fraction (0.35) it starts from the trunk's earlier
    point, trains the stable steps up to its cooldown, and still equals the independent run."""
    data = make_data(tmp_path / "data")
    branches, segments = branch_plan("t", _runs(30, 60), WSD | {"decay_fraction": decay})
    markers = {}
    for seg in segments:
        start = markers.get(seg["trunk"]["previous"])
        out = tmp_path / "trunks" / f"{seg['run_id']}.json"
        markers[seg["run_id"]] = train_run(seg, data, out, tmp_path / "ckpt" / seg["run_id"], log=quiet, start=start)
        assert (tmp_path / "ckpt" / seg["run_id"] / "point.pt").is_file()
    branch = branches[1]
    got = train_run(branch, data, tmp_path / "b.json", tmp_path / "ckpt" / "b", log=quiet,
                    start=markers[branch["trunk"]["id"]])  # fmt: skip
    alone = {k: v for k, v in branch.items() if k not in ("trunk", "eval_steps")}
    want = train_run(alone, data, tmp_path / "alone.json", tmp_path / "ckpt" / "alone", log=quiet)
    assert got["final"]["val_loss"] == pytest.approx(want["final"]["val_loss"], rel=1e-6)
    assert got["final"]["train_loss"] == pytest.approx(want["final"]["train_loss"], rel=1e-6)
    assert got["final"]["val_loss"] < got["curve"][0]["val_loss"] - 0.5  # it learned
    assert got["tokens"]["seen"] == want["tokens"]["seen"]
    assert got["flops"]["actual"] == want["flops"]["actual"]
    cost = 36 if decay == 0.2 else 24 + 36  # trunk share 24 + 12 steps; 24 + (60 - 24) from d8-s24
    assert got["flops"]["branch"]["cost"] == pytest.approx(cost / 60 * got["flops"]["branch"]["independent"])
    assert got["trunk"]["id"] == branch["trunk"]["id"] and got["trunk"]["step"] == (48 if decay == 0.2 else 24)
    wrong = copy.deepcopy(branch)
    wrong["trunk"]["hash"] = "0" * 16
    with pytest.raises(ValueError, match="of another trunk or step"):
        train_run(wrong, data, tmp_path / "w.json", tmp_path / "ckpt" / "w", log=quiet,
                  start=markers[branch["trunk"]["id"]])  # fmt: skip


def test_real_trunk_that_diverges_gives_diverged_branches(tmp_path):
    """The torch trainer at an absurd rate: the first trunk segment diverges; the next segment
    passes that on without training, and a branch of it is a diverged run with trunk provenance."""
    data = make_data(tmp_path / "data")
    runs = _runs(30, 60)
    for run in runs:
        run["optimizer"] |= {"lr": 1e30, "grad_clip": 0.0}
    branches, segments = branch_plan("t", runs, WSD)
    first = train_run(segments[0], data, tmp_path / "t0.json", tmp_path / "c0", log=quiet)
    assert first["status"] == "diverged" and first["step"] < 24
    second = train_run(segments[1], data, tmp_path / "t1.json", tmp_path / "c1", log=quiet, start=first)
    assert second["status"] == "diverged" and second["diverged_in"] == "d8-s24" and second["checkpoint"] is None
    got = train_run(branches[1], data, tmp_path / "b.json", tmp_path / "cb", log=quiet, start=second)
    assert json.loads((tmp_path / "b.json").read_text()) == got
    assert got["status"] == "diverged" and got["final"]["val_loss"] is None and got["final"]["step"] == first["step"]
    assert got["trunk"]["id"] == "d8-s48" and got["trunk"]["diverged_in"] == "d8-s24"
    assert got["tokens"]["seen"] == first["step"] * runs[1]["tokens_per_step"]


@pytest.fixture(scope="module")
def branched(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("branches")
    config = tiny_config("mock")
    config["studies"]["tiny"]["grid"]["mode"] = "branches"
    config["studies"]["tiny"]["training"]["schedule"] = "wsd"
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2", "results/tiny/runs.csv")
    return workdir, config


def test_mock_branches_run_as_trunk_then_branch_jobs(branched, tmp_path):
    workdir, config = branched
    runs = sorted((workdir / "results/tiny/runs").glob("*.json"))
    trunks = sorted(p.stem for p in (workdir / "results/tiny/trunks").glob("*.json"))
    assert len(runs) == 9 and trunks == ["d12-s1192", "d12-s298", "d12-s596", "d4-s1024", "d4-s2047", "d4-s4094",
                                         "d8-s1921", "d8-s480", "d8-s960"]  # fmt: skip
    run = json.loads((workdir / "results/tiny/runs/C1e10-d8.json").read_text())
    assert run["trunk"]["id"] == "d8-s1921" and run["status"] == "ok"
    assert run["flops"]["actual"] == run["flops"]["branch"]["independent"] > run["flops"]["branch"]["cost"]
    table = {r["run_id"]: r for r in csv.DictReader((workdir / "results/tiny/runs.csv").open())}
    assert float(table["C1e10-d8"]["flops"]) == pytest.approx(run["flops"]["actual"])  # the fit's C
    total = sum(json.loads(p.read_text())["flops"]["branch"]["cost"] for p in runs)
    assert total < 0.75 * sum(json.loads(p.read_text())["flops"]["actual"] for p in runs)

    copy_dir = tmp_path / "w"
    shutil.copytree(workdir, copy_dir, symlinks=True)
    cfg = copy.deepcopy(config)
    cfg["studies"]["tiny"]["training"] |= {"min_lr_ratio": 0.05, "decay_shape": "sqrt"}  # a new cooldown
    write_config(copy_dir, cfg)
    jobs = planned_jobs(snakemake(copy_dir, "-n", "--cores", "2", "results/tiny/runs.csv"))
    assert jobs.get("train") == 9 and "trunk" not in jobs  # the branches only

    for decay in (0.1, 0.3):  # a shorter or longer cooldown: the branches only, no trunk job
        cfg = copy.deepcopy(config)
        cfg["studies"]["tiny"]["training"]["decay_fraction"] = decay
        write_config(copy_dir, cfg)
        jobs = planned_jobs(snakemake(copy_dir, "-n", "--cores", "2", "results/tiny/runs.csv"))
        assert jobs == {"train": 9, "aggregate": 1}

    cfg = copy.deepcopy(config)
    cfg["studies"]["tiny"]["grid"]["budgets"].append(2e10)  # a larger budget extends each trunk
    write_config(copy_dir, cfg)
    jobs = planned_jobs(snakemake(copy_dir, "-n", "--cores", "2", "results/tiny/runs.csv"))
    assert jobs == {"trunk": 3, "train": 3, "aggregate": 1}
    log = snakemake(copy_dir, "-n", "--cores", "2", "-p", "results/tiny/runs.csv").stdout
    assert all(f"--start results/tiny/trunks/{t}.json" in log for t in ("d4-s4094", "d8-s1921", "d12-s1192"))


def test_a_diverged_trunk_makes_its_branches_diverged_runs(branched, tmp_path):
    """A trunk that diverges: its branches and its later segments' branches write run JSONs marked
    diverged (with the trunk's provenance), and aggregation and the fit go on without them."""
    workdir, _ = branched
    copy_dir = tmp_path / "w"
    shutil.copytree(workdir, copy_dir, symlinks=True)
    marker_path = copy_dir / "results/tiny/trunks/d8-s480.json"  # the mock cannot diverge: mark it so
    marker = json.loads(marker_path.read_text()) | {"status": "diverged", "step": 300}
    marker_path.write_text(json.dumps(marker))
    snakemake(copy_dir, "--cores", "2", "results/tiny/fit/fit.json")
    later = json.loads((copy_dir / "results/tiny/trunks/d8-s960.json").read_text())
    assert later["status"] == "diverged" and later["diverged_in"] == "d8-s480" and later["checkpoint"] is None
    runs = {p.stem: json.loads(p.read_text()) for p in (copy_dir / "results/tiny/runs").glob("*.json")}
    diverged = sorted(r for r, run in runs.items() if run["status"] == "diverged")
    assert diverged == ["C1e10-d8", "C2.5e9-d8", "C5e9-d8"]
    first, last = runs["C2.5e9-d8"], runs["C1e10-d8"]
    assert first["trunk"] | {"diverged_in": "d8-s480", "status": "diverged", "id": "d8-s480"} == first["trunk"]
    assert last["trunk"]["id"] == "d8-s1921" and last["trunk"]["diverged_in"] == "d8-s480"
    assert first["final"] == {"train_loss": None, "val_loss": None, "step": 300}
    assert first["flops"]["branch"]["cooldown"] == 0 and last["flops"]["branch"]["cost"] == 0
    fit = json.loads((copy_dir / "results/tiny/fit/fit.json").read_text())
    excluded = {e["run_id"] for e in fit["excluded_runs"]}
    assert set(diverged) <= excluded


def test_branches_take_their_rate_from_the_swept_rule(tmp_path):
    """grid.mode branches with training.lr_scaling sweep: trunks and branches wait for the rule
    (a checkpoint) and train at their size's swept rate, as independent runs do."""
    config = tiny_config("mock")
    study = config["studies"]["tiny"]
    study["grid"] |= {"mode": "branches", "budgets": [2.5e9, 5e9], "sizes": [4, 8]}
    study["training"] |= {"schedule": "wsd", "lr_scaling": "sweep"}
    study["training"]["mock"].update(lr_penalty=0.02, lr_optimum=0.004, lr_exponent=0.5)
    study["lr_sweep"] = {"lrs": [0.01, 0.02, 0.04, 0.08], "sizes": [4, 8]}
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "results/tiny/runs.csv")
    results = tmp_path / "results" / "tiny"
    rule = json.loads((results / "lr" / "rule.json").read_text())
    runs = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    trunks = [json.loads(p.read_text()) for p in (results / "trunks").glob("*.json")]
    assert len(runs) == 4 and len(trunks) == 4 and all(r["status"] == "ok" for r in runs)
    rates = {r["spec"]["size"]: swept_lr(rule, r["spec"]["params_total"]) for r in runs}
    assert rates[4] != rates[8]  # the rule moves the rate with size
    for run in runs:
        assert run["spec"]["optimizer"]["lr"] == rates[run["spec"]["size"]] and "trunk" in run
    planned = {t["run_id"]: t for t in plan_study_and_trunks("tiny", check_config(config)["studies"]["tiny"], rule)[1]}
    for trunk in trunks:  # each trunk trained its planned spec, at the swept rate
        spec = planned[trunk["trunk_id"]]
        assert trunk["trunk_hash"] == spec["trunk"]["hash"] and spec["optimizer"]["lr"] == rates[spec["size"]]
