#!/usr/bin/env bash
# The Debian packages perfstream's tests drive, installed when missing (needs root, as in CI):
#   prometheus  promtool checks and unit-tests deploy/prometheus/rules.yml; the server scrapes a worker
#   slurm-wlm, slurmdbd, munge, mariadb-server  a one-node Slurm with accounting (deploy/local/slurm.sh)
#                     whose jobs feed `perfstream slurm`
#   mmdebstrap        builds the Debian 13 root in which deploy/local/slurm-kafka.sh runs Slurm 24.11 with
#                     its jobcomp/kafka plugin
#   systemd           systemd-analyze verifies and rates deploy/systemd's unit
set -euo pipefail

missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
  || missing+=(slurm-wlm slurm-client)
command -v slurmdbd >/dev/null || missing+=(slurmdbd)
command -v munged >/dev/null && command -v mungekey >/dev/null || missing+=(munge)
command -v mariadbd >/dev/null || missing+=(mariadb-server)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v systemd-analyze >/dev/null || missing+=(systemd)

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  install() { apt-get install -y -q --no-install-recommends "${missing[@]}"; }
  install || { apt-get update -q && install; }  # a stale package index is the usual reason to fail
fi
