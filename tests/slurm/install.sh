#!/usr/bin/env bash
# Install the packages that tests/slurm/cluster.sh needs to run a single-node SLURM cluster:
# slurm-wlm (slurmctld, slurmd and the client tools sbatch/squeue/scontrol/...) and munge.
#
#   bash tests/slurm/install.sh        # idempotent: does nothing when everything is present
#
# Needs root and a reachable Debian/Ubuntu package mirror. Without them it prints why and exits 0,
# so CI can call it unconditionally; the SLURM tests then skip with a printed reason.
# No daemon is started here (Debian's maintainer scripts would try systemd); cluster.sh starts
# munged, slurmctld and slurmd by hand.
set -u

need=()
for cmd in slurmctld slurmd sbatch squeue scontrol munged; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$cmd")
done
if [ ${#need[@]} -eq 0 ]; then
    echo "install.sh: slurm-wlm and munge already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: not root, cannot install slurm-wlm/munge (missing: ${need[*]}); SLURM tests will skip"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: no apt-get, cannot install slurm-wlm/munge; SLURM tests will skip"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Keep maintainer scripts from starting services (no systemd in containers; cluster.sh starts them).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
rc=0
apt-get update -qq || rc=$?
if [ $rc -eq 0 ]; then
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || rc=$?
fi
[ $created_policy -eq 1 ] && rm -f "$policy"
if [ $rc -ne 0 ]; then
    echo "install.sh: apt-get failed (rc=$rc); SLURM tests will skip"
    exit 0
fi
echo "install.sh: installed slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null) and munge"
