# Prepare each dataset once (tokenize, split, memmap), shared by every study that uses it.


rule prepare_data:
    output:
        train="results/data/{dataset}/train.bin",
        val="results/data/{dataset}/val.bin",
        meta="results/data/{dataset}/meta.json",
    log:
        "results/data/logs/{dataset}.log",
    conda:
        "../../envs/train.yaml"
    params:
        data=lambda wildcards: json.dumps(DATASETS[wildcards.dataset], sort_keys=True),
        out=lambda wildcards, output: os.path.dirname(output.meta),
    shell:
        "flops-fit prepare-data --data-config {params.data:q} --out {params.out} > {log} 2>&1"
