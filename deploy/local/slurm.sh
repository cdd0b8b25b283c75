#!/usr/bin/env bash
# A one-node Slurm on this host for the Slurm adapter's tests: munged, slurmctld and slurmd from
# Debian's slurm-wlm and munge packages (deploy/local/debian-packages.sh installs them), run as root,
# with jobs recorded in a job-completion log (jobcomp/filetxt), all under one home directory.
#
#   bash deploy/local/slurm.sh start|stop|status|env
#
# Environment: PERFSTREAM_SLURM_HOME (default /tmp/perfstream-slurm), PERFSTREAM_SLURM_PORT (slurmctld;
# slurmd listens on the next port; default 16817), PERFSTREAM_SLURM_CPUS (job slots, default 16).
# `env` prints the variables Slurm's clients need.
set -euo pipefail

home="${PERFSTREAM_SLURM_HOME:-/tmp/perfstream-slurm}"
port="${PERFSTREAM_SLURM_PORT:-16817}"
host="$(hostname -s)"
conf="$home/slurm.conf"
socket="$home/munge/munge.socket"

configure() {
  mkdir -p "$home"/{munge,state,spool,log}
  chmod 700 "$home/munge"
  [[ -s "$home/munge/munge.key" ]] || mungekey --create --keyfile="$home/munge/munge.key"
  chmod 600 "$home/munge/munge.key"
  local cpus memory
  cpus="${PERFSTREAM_SLURM_CPUS:-16}"  # more slots than cores (config_overrides): test jobs mostly sleep
  memory="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))"
  cat > "$conf" <<CONF
ClusterName=perfstream-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$home/state
SlurmdSpoolDir=$home/spool/%n
SlurmctldPidFile=$home/slurmctld.pid
SlurmdPidFile=$home/slurmd.pid
SlurmctldLogFile=$home/log/slurmctld.log
SlurmdLogFile=$home/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$home/jobcomp.log
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

start() {
  configure
  running "$home/munged.pid" || munged --force --key-file="$home/munge/munge.key" --socket="$socket" \
    --pid-file="$home/munged.pid" --log-file="$home/log/munged.log" --seed-file="$home/munge/munge.seed"
  export SLURM_CONF="$conf"
  running "$home/slurmctld.pid" || slurmctld -f "$conf"
  running "$home/slurmd.pid" || slurmd -f "$conf"
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm running: cluster perfstream-ci, node $host, SLURM_CONF=$conf"
      return 0
    fi
    sleep 1
  done
  echo "slurm did not come up; logs in $home/log:" >&2
  tail -n 20 "$home"/log/*.log >&2
  return 1
}

stop() {
  for daemon in slurmd slurmctld munged; do
    if running "$home/$daemon.pid"; then
      kill "$(cat "$home/$daemon.pid")"
      for _ in $(seq 30); do running "$home/$daemon.pid" || break; sleep 0.5; done
    fi
  done
  echo "slurm stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF="$conf" sinfo ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
