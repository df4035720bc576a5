# shellcheck shell=bash
# A private single-node SLURM for a CI test script, sourced by it after .ci/stages.sh (it uses `fail`):
#   start_slurm_node DIR CLUSTER   munged, slurmctld and slurmd with their configuration, keys, state and logs in
#                                  DIR (ports $ctld_port and $slurmd_port); exports SLURM_CONF; waits for an
#                                  idle node
#   stop_slurm_node DIR [CODE]     cancels the jobs left in the queue, stops the three daemons by pid and, when
#                                  CODE is not 0, prints the tail of their logs
#   stop_daemon NAME PIDFILE       TERM the process whose pid the file holds, if it is NAME; KILL after 20 s
#   port_in_use PORT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_daemon() {
    local name=$1 pid_file=$2 pid i
    [ -s "$pid_file" ] || return 0
    pid=$(cat "$pid_file")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 0
    kill -TERM "$pid"
    for i in $(seq 100); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.2
    done
    echo "$name (pid $pid) did not stop in 20 s: killed" >&2
    kill -KILL "$pid"
}

start_slurm_node() {
    local dir=$1 cluster=$2 port memory state
    for port in "${ctld_port:?}" "${slurmd_port:?}"; do
        port_in_use "$port" && fail "port $port is in use (another SLURM?): set SLURMCTLD_PORT/SLURMD_PORT"
    done
    mkdir -p "$dir"/{etc,run,log,state,spool,munge}
    chown munge:munge "$dir/munge"
    chmod 755 "$dir" "$dir/munge"  # munged: the socket directory must be searchable by all
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/mungekey --create --keyfile="$dir/munge/munge.key"
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --socket="$dir/munge/munge.socket" \
        --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed"
    memory=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)  # 90% of the machine's, MB
    export SLURM_CONF=$dir/etc/slurm.conf
    cat > "$SLURM_CONF" <<EOF
ClusterName=$cluster
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=3600
MpiDefault=none
ReturnToService=2
NodeName=localhost CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    /usr/sbin/slurmctld -f "$SLURM_CONF"
    /usr/sbin/slurmd -f "$SLURM_CONF" -N localhost
    for _ in $(seq 120); do
        state=$(sinfo -h -N -o %T 2>/dev/null || true)
        [ "$state" = idle ] && break
        sleep 0.5
    done
    [ "$state" = idle ] || fail "the node is not idle after 60 s (state: '${state:-no answer}')"
    echo "pids: munged $(cat "$dir/munge/munged.pid"), slurmctld $(cat "$dir/run/slurmctld.pid")," \
         "slurmd $(cat "$dir/run/slurmd.pid")"
    sinfo -h -N -o 'node %N: %T, %c CPUs, %m MB'
}

stop_slurm_node() {
    local dir=$1 code=${2:-0} jobs i log
    if [ -s "$dir/run/slurmctld.pid" ]; then
        jobs=$(squeue -h -t PD,R,S,CF -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            echo "cancelling jobs left in the queue: $jobs"
            # shellcheck disable=SC2086
            scancel $jobs
        fi
        for i in $(seq 60); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
    fi
    stop_daemon slurmd "$dir/run/slurmd.pid"
    stop_daemon slurmctld "$dir/run/slurmctld.pid"
    stop_daemon munged "$dir/munge/munged.pid"
    if [ "$code" != 0 ]; then
        for log in "$dir"/log/*.log "$dir"/munge/*.log; do
            [ -f "$log" ] && { echo "---- tail of $log"; tail -n 20 "$log"; }
        done
    fi
    return 0
}
