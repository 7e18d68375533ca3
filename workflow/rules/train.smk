# One training job per planned run; its only output is the run's loss JSON. Checkpoints go
# to a side folder (never a declared output: Snakemake deletes outputs of failed jobs), so a
# killed or preempted run resumes. With grid.mode branches (flops_fit.branches) a run is a
# cooldown branch: it takes its trunk segment's marker as input and starts from the branch-point
# checkpoint that the marker names; one trunk job per segment (size, branch point) writes it.


rule train:
    input:
        unpack(train_inputs),
    output:
        run="results/{study}/runs/{run_id}.json",
    log:
        "results/{study}/logs/train/{run_id}.log",
    conda:
        "../../envs/train.yaml"
    threads: lambda wildcards: study_cfg(wildcards)["training"]["threads"]
    resources:
        # Local runs only: on a cluster (SLURM counts the CPUs) a job asks for none, or the
        # login node's core count would cap how many training jobs are queued at once.
        cpu_busy=lambda wildcards, threads: threads * train_processes(wildcards) if workflow.local_exec else 0,
        # SLURM only (profiles/slurm; see docs/slurm.md): wall time from the planned FLOPs, and
        # the `cluster:` block of the config. `gpu` (singular) is the plugin's GPU request.
        runtime=train_runtime_minutes,
        gpu=lambda wildcards: CONFIG["cluster"]["gpus_per_run"] * train_processes(wildcards),
        cpus_per_gpu=CONFIG["cluster"]["cpus_per_gpu"],
        mem_mb=CONFIG["cluster"]["mem_mb"],
    params:
        spec=run_spec,
        data=lambda wildcards: data_dir(wildcards.study),
        checkpoints="results/{study}/checkpoints/{run_id}",
        launcher=train_launcher,
        start=start_option,
    shell:
        "{params.launcher} train --spec {params.spec:q} --data {params.data} --out {output.run}"
        " --checkpoint-dir {params.checkpoints} --threads {threads} {params.start} > {log} 2>&1"


rule trunk:
    input:
        unpack(train_inputs),
    output:
        marker="results/{study}/trunks/{trunk_id}.json",
    log:
        "results/{study}/logs/trunk/{trunk_id}.log",
    conda:
        "../../envs/train.yaml"
    threads: lambda wildcards: study_cfg(wildcards)["training"]["threads"]
    resources:
        cpu_busy=lambda wildcards, threads: threads * train_processes(wildcards) if workflow.local_exec else 0,
        runtime=train_runtime_minutes,
        gpu=lambda wildcards: CONFIG["cluster"]["gpus_per_run"] * train_processes(wildcards),
        cpus_per_gpu=CONFIG["cluster"]["cpus_per_gpu"],
        mem_mb=CONFIG["cluster"]["mem_mb"],
    params:
        spec=run_spec,
        data=lambda wildcards: data_dir(wildcards.study),
        checkpoints="results/{study}/checkpoints/trunk-{trunk_id}",
        launcher=train_launcher,
        start=start_option,
    shell:
        "{params.launcher} train --spec {params.spec:q} --data {params.data} --out {output.marker}"
        " --checkpoint-dir {params.checkpoints} --threads {threads} {params.start} > {log} 2>&1"
