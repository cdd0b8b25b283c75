#!/usr/bin/env bash
# A one-node Slurm whose jobcomp/kafka plugin publishes every finished job to a Kafka topic, for the
# test of `perfstream slurm jobcomp` on the plugin's own records.
#
# The plugin arrived in Slurm 23.02; Debian 12 ships 22.05 (deploy/local/slurm.sh runs that one), Debian
# 13 ships 24.11 with the plugin (slurm-wlm-kafka-plugin). So this script builds a Debian 13 root file
# system once with mmdebstrap (~240 MB, ~20 s; cached like the Kafka jars) and runs munged, slurmctld
# and slurmd chrooted in it, as root, on this host's network, with /proc, /dev and /sys bound in.
# Environment variables set for `start` (TZ, for one) reach the daemons.
#
#   bash deploy/local/slurm-kafka.sh start|stop|run COMMAND...
#
# `run` runs a Slurm client (sbatch, squeue, ...) inside the root against this cluster.
# Environment: PERFSTREAM_SLURM_KAFKA_BOOTSTRAP (the broker; required by start),
# PERFSTREAM_SLURM_KAFKA_TOPIC (default slurm-jobcomp; it must exist: the plugin keeps a record until
# it can deliver it), PERFSTREAM_SLURM_PORT (slurmctld; slurmd listens on the next; default 16917),
# PERFSTREAM_SLURM_ROOT (default ~/.cache/perfstream/slurm-24.11-trixie).
set -euo pipefail
source "$(dirname "$0")/slurm-conf.sh"

root="${PERFSTREAM_SLURM_ROOT:-$HOME/.cache/perfstream/slurm-24.11-trixie}"
port="${PERFSTREAM_SLURM_PORT:-16917}"
inside="/var/lib/perfstream-slurm/$port"  # this cluster's home, as the daemons see it
home="$root$inside"
packages=slurmctld,slurmd,slurm-client,slurm-wlm-kafka-plugin,munge

build_root() {
  [[ -x "$root/usr/sbin/slurmctld" ]] && return 0
  command -v mmdebstrap > /dev/null || { echo "mmdebstrap missing: bash deploy/local/debian-packages.sh" >&2; exit 1; }
  local partial="$root.partial"
  rm -rf "$partial"
  mkdir -p "$(dirname "$root")"
  mmdebstrap --quiet --variant=essential --include="$packages" trixie "$partial" http://deb.debian.org/debian
  mv "$partial" "$root"  # only a complete root counts as built
}

mount_host() {
  for part in proc dev sys; do
    mountpoint -q "$root/$part" && continue
    if [[ $part == proc ]]; then mount -t proc proc "$root/proc"; else mount --bind "/$part" "$root/$part"; fi
  done
}

configure() {
  mkdir -p "$home"/{munge,state,spool,log}
  [[ -s "$home/munge/munge.key" ]] || chroot "$root" mungekey --create --keyfile="$inside/munge/munge.key"
  chmod 600 "$home/munge/munge.key"
  echo "bootstrap.servers=${PERFSTREAM_SLURM_KAFKA_BOOTSTRAP:?the Kafka broker is needed}" > "$home/rdkafka.conf"
  echo "CgroupPlugin=disabled" > "$home/cgroup.conf"  # no cgroup hierarchy is mounted in the root
  one_node_conf perfstream-kafka "$inside" "$port" 8 1000 "AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/kafka
JobCompLoc=$inside/rdkafka.conf
JobCompParams=topic=${PERFSTREAM_SLURM_KAFKA_TOPIC:-slurm-jobcomp}" > "$home/slurm.conf"
}

running() { [[ -f "$home/$1.pid" ]] && kill -0 "$(cat "$home/$1.pid" 2>/dev/null)" 2>/dev/null; }

inroot() { SLURM_CONF="$inside/slurm.conf" chroot "$root" "$@"; }

start() {
  build_root
  mount_host
  configure
  running munged || inroot munged --force --key-file="$inside/munge/munge.key" \
    --socket="$inside/munge/munge.socket" --pid-file="$inside/munged.pid" \
    --log-file="$inside/log/munged.log" --seed-file="$inside/munge/munge.seed"
  running slurmctld || inroot slurmctld
  running slurmd || inroot slurmd
  for _ in $(seq 60); do
    if inroot sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm 24.11 running in $root: jobcomp/kafka to ${PERFSTREAM_SLURM_KAFKA_TOPIC:-slurm-jobcomp}"
      return 0
    fi
    sleep 1
  done
  echo "slurm did not come up; logs in $home/log:" >&2
  tail -n 20 "$home"/log/*.log >&2
  exit 1
}

stop() {
  for daemon in slurmd slurmctld munged; do
    if running "$daemon"; then
      kill "$(cat "$home/$daemon.pid")"
      for _ in $(seq 30); do running "$daemon" || break; sleep 0.5; done
    fi
  done
  rm -rf "$home"
  # another cluster may still run in the same root: its daemons keep the mounts
  if ! compgen -G "$root/var/lib/perfstream-slurm/*" > /dev/null; then
    for part in sys dev proc; do mountpoint -q "$root/$part" && umount "$root/$part"; done
  fi
  echo "slurm stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  run) shift; inroot "$@" ;;
  *) echo "usage: $0 start|stop|run COMMAND..." >&2; exit 2 ;;
esac
