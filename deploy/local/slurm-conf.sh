# Sourced by slurm.sh and slurm-kafka.sh: the slurm.conf both one-node clusters share.
#
#   one_node_conf CLUSTER DIR PORT CPUS MEMORY_MB LINES
#
# One node on 127.0.0.1 running everything as root; state, logs and munge's socket under DIR (as the
# daemons see it); slurmctld on PORT, slurmd on PORT + 1. Jobs take cores, not the whole memory
# (CR_Core), so test jobs run side by side. LINES (accounting and job completion settings) go in
# before the node and partition.
one_node_conf() {
  local cluster=$1 dir=$2 port=$3 cpus=$4 memory=$5 lines=$6 host
  host="$(hostname -s)"
  cat <<CONF
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=2
$lines
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}
