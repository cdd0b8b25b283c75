#!/usr/bin/env bash
# A one-node Slurm on this host for the Slurm adapter's tests: munged, MariaDB, slurmdbd, slurmctld
# and slurmd from Debian's packages (deploy/local/debian-packages.sh installs them), run as root,
# jobs recorded both in the accounting database (plain `sacct`) and in a job-completion log
# (jobcomp/filetxt, `sacct --completion`), all under one home directory.
#
#   bash deploy/local/slurm.sh start|stop|status|env
#
# Environment: PERFSTREAM_SLURM_HOME (default /tmp/perfstream-slurm), PERFSTREAM_SLURM_PORT (slurmctld;
# slurmd, slurmdbd and MariaDB listen on the next three ports; default 16817), PERFSTREAM_SLURM_CPUS
# (job slots, default 16).
# `env` prints the variables Slurm's clients need.
set -euo pipefail
source "$(dirname "$0")/slurm-conf.sh"

home="${PERFSTREAM_SLURM_HOME:-/tmp/perfstream-slurm}"
port="${PERFSTREAM_SLURM_PORT:-16817}"
host="$(hostname -s)"
conf="$home/slurm.conf"
socket="$home/munge/munge.socket"
dbd_port=$((port + 2))
db_port=$((port + 3))
db_socket="$home/mysql.sock"

configure() {
  mkdir -p "$home"/{munge,state,spool,log,mysql}
  chmod 711 "$home/munge"  # every user may reach the socket (a bridge run by a service account), root alone the key
  [[ -s "$home/munge/munge.key" ]] || mungekey --create --keyfile="$home/munge/munge.key"
  chmod 600 "$home/munge/munge.key"
  local cpus memory
  cpus="${PERFSTREAM_SLURM_CPUS:-16}"  # more slots than cores (config_overrides): test jobs mostly sleep
  memory="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))"
  one_node_conf perfstream-ci "$home" "$port" "$cpus" "$memory" "AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
AccountingStoragePass=$socket
JobCompType=jobcomp/filetxt
JobCompLoc=$home/jobcomp.log" > "$conf"
  cat > "$home/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$home/slurmdbd.pid
LogFile=$home/log/slurmdbd.log
CONF
  chmod 600 "$home/slurmdbd.conf"  # slurmdbd refuses a readable one
}

start_database() {
  [[ -d "$home/mysql/mysql" ]] || mariadb-install-db --no-defaults --user=root --datadir="$home/mysql" \
    --auth-root-authentication-method=normal --skip-test-db > "$home/log/mariadb-install.log" 2>&1
  running "$home/mariadb.pid" || (mariadbd --no-defaults --user=root --datadir="$home/mysql" --socket="$db_socket" \
    --port="$db_port" --bind-address=127.0.0.1 --pid-file="$home/mariadb.pid" \
    --log-error="$home/log/mariadb.log" > /dev/null 2>&1 &)
  for _ in $(seq 60); do
    mariadb-admin --no-defaults --socket="$db_socket" -u root ping > /dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb-admin --no-defaults --socket="$db_socket" -u root ping > /dev/null 2>&1 || fail "MariaDB did not come up"
  # slurmdbd connects over TCP as root with no password: allow exactly that, on loopback only
  mariadb --no-defaults --socket="$db_socket" -u root -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1';"
}

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

start() {
  configure
  running "$home/munged.pid" || munged --force --key-file="$home/munge/munge.key" --socket="$socket" \
    --pid-file="$home/munged.pid" --log-file="$home/log/munged.log" --seed-file="$home/munge/munge.seed"
  export SLURM_CONF="$conf"  # slurmdbd finds slurmdbd.conf beside it
  start_database
  running "$home/slurmdbd.pid" || slurmdbd
  for _ in $(seq 60); do sacctmgr -n list cluster > /dev/null 2>&1 && break; sleep 0.5; done
  sacctmgr -i -Q add cluster perfstream-ci > /dev/null 2>&1 || true  # already there after a restart
  running "$home/slurmctld.pid" || slurmctld -f "$conf"
  running "$home/slurmd.pid" || slurmd -f "$conf"
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm running: cluster perfstream-ci, node $host, SLURM_CONF=$conf"
      return 0
    fi
    sleep 1
  done
  fail "slurm did not come up"
}

fail() {
  echo "$1; logs in $home/log:" >&2
  tail -n 20 "$home"/log/*.log >&2
  exit 1
}

stop() {
  for daemon in slurmd slurmctld slurmdbd mariadb munged; do
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
