#!/usr/bin/env bash
# SLURM test (CI): the README's cluster commands on a real single-node SLURM (Debian's packages).
#   1. install slurmctld, slurmd, slurm-client and munge when missing (apt-get; needs root);
#   2. start munged (as user munge), slurmctld and slurmd with a private configuration, state, spool, logs,
#      munge key and socket under one temporary directory (no accounting database: job states come from
#      `scontrol` and the job-completion file, jobcomp/filetxt);
#   3. a local reference run (`fnirs-glm ... participant --n_cpus 2`, then `group`) of each study: the
#      bundled recordings (tests/data/grptap, copied) and a simulated study of 20 participants x 2 sessions;
#   4. scripts/slurm_submit.sh with FNIRS_GLM_CMD=.venv/bin/fnirs-glm (no Apptainer in CI):
#      a. grptap, default settings: the job script's CPU, memory and time requests;
#      b. grptap, MAX_PARALLEL=1 and SBATCH_ARGS: the array throttle, one task after the other, the extra
#         sbatch options on both jobs;
#      c. grptap with sub-02's recording truncated, CPUS_PER_TASK=2: 2 CPUs and --n_cpus 2 per task, the
#         failing task FAILED, the group job cancelled before it ran; then the README's recovery (the data
#         fixed, the failed task resubmitted, `sbatch scripts/slurm_participants.sh --group ...`);
#      d. the simulated study, default settings (the throughput measurement);
#      and every time: every array task COMPLETED (scontrol and the job-completion file) and validated its
#      input, the group job started after the last task ended, the outputs are complete, validate
#      (bids-validator-deno) and equal the local run's byte for byte, logs/ apart;
#   5. `srun --cpus-per-task=2`: the app's --n_cpus defaults to SLURM_CPUS_PER_TASK inside a job.
# Prints a throughput line (participants per minute through SLURM and locally) and the time of each stage.
# Stops exactly the daemons it started (by their pid files) and removes its directory, on failure too.
#
# Usage (as root, from anywhere, after .ci/run made .venv):  bash .ci/slurm_test.sh
# Environment: SIM_SUBJECTS (default 20), KEEP_TMP=1 (keep the temporary directory and say where),
#   SLURMCTLD_PORT / SLURMD_PORT (default 6817 / 6818: the test refuses to start when they are in use).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
app=$repo/.venv/bin/fnirs-glm
validator=$repo/.venv/bin/bids-validator-deno
sim_subjects=${SIM_SUBJECTS:-20}
ctld_port=${SLURMCTLD_PORT:-6817}
slurmd_port=${SLURMD_PORT:-6818}
export DENO_DIR=${DENO_DIR:-${TMPDIR:-/tmp}/fnirs-glm-ci-deno}

# ---------------------------------------------------------------------------------------------- helpers
test_name="SLURM test" tmp=""
# shellcheck source=.ci/stages.sh
source .ci/stages.sh
# shellcheck source=.ci/slurm_node.sh
source .ci/slurm_node.sh

cleanup() {
    local code=$?
    set +e
    if [ -n "$tmp" ]; then
        stop_slurm_node "$tmp" "$code"
        if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
    fi
    print_timings 72
    if [ -n "${throughput:-}" ]; then echo "   $throughput"; fi
    if [ "$code" = 0 ]; then echo "SLURM test passed"; else echo "SLURM test FAILED (exit $code, stage '$stage')" >&2; fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ------------------------------------------------------------------------------------ 1. install SLURM
[ "$(id -u)" = 0 ] || fail "run as root (apt-get, munged as user munge, slurmd)"
[[ -x $app && -x $validator ]] || fail "$app or $validator missing: run .ci/run (or make .venv as it does)"
begin "install slurmctld slurmd slurm-client munge (when missing)"
if ! [[ -x /usr/sbin/slurmctld && -x /usr/sbin/slurmd && -x /usr/bin/sbatch && -x /usr/sbin/munged \
        && -x /usr/sbin/mungekey ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
/usr/sbin/slurmctld -V
end

# -------------------------------------------------------------------------------------- 2. start SLURM
begin "start munged, slurmctld and slurmd (private configuration)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fnirs-glm-ci-slurm.XXXXXX")
mkdir -p "$tmp/work"
start_slurm_node "$tmp" fnirsglmci
end

# ------------------------------------------------------------------------------------- job inspection
field() {  # FIELD: its value in each `scontrol -o show job` line read from stdin
    sed -n "s|^\(.* \)\{0,1\}$1=\([^ ]*\).*|\2|p"
}
jobs_of() { scontrol -o show job "$1"; }  # one line per job (per array task)
wait_jobs() {  # JOBID...: until none of them is pending, running or completing (10 minutes at most)
    local ids; ids=$(IFS=,; echo "$*")
    local queued
    for _ in $(seq 1200); do
        if queued=$(squeue -h -j "$ids" -t PD,R,CG,CF,S -o %i) && [ -z "$queued" ]; then return 0; fi
        sleep 0.5
    done
    fail "jobs $ids still queued after 10 minutes"
}
seconds() { date -d "$1" +%s; }  # a scontrol time (2026-12-01T15:04:05) in seconds
submit() {  # OUTPUT: scripts/slurm_submit.sh "$@"; sets array_job and group_job
    local output
    output=$(bash scripts/slurm_submit.sh "$@") || fail "slurm_submit.sh $*: failed"
    echo "$output"
    array_job=$(sed -n 's/^participant level: job \([0-9]*\),.*/\1/p' <<< "$output")
    group_job=$(sed -n 's/^group level: job \([0-9]*\),.*/\1/p' <<< "$output")
    [[ -n $array_job && -n $group_job ]] || fail "no job ids in: $output"
}
check_completed() {  # N_TASKS: every task of $array_job and $group_job COMPLETED, exit 0, the group last
    local n=$1 lines states codes last_end group_start
    lines=$(jobs_of "$array_job")
    [ "$(grep -c . <<< "$lines")" = "$n" ] || fail "job $array_job: $(grep -c . <<< "$lines") tasks, not $n"
    states=$(field JobState <<< "$lines" | sort | uniq -c | xargs)
    codes=$(field ExitCode <<< "$lines" | sort | uniq -c | xargs)
    [[ $states == "$n COMPLETED" && $codes == "$n 0:0" ]] \
        || fail "job $array_job: task states $states, exit codes $codes"
    [ "$(jobs_of "$group_job" | field JobState)" = COMPLETED ] \
        || fail "group job $group_job: $(jobs_of "$group_job" | field JobState)"
    last_end=$(field EndTime <<< "$lines" | sort | tail -n 1)
    group_start=$(jobs_of "$group_job" | field StartTime)
    [ "$(seconds "$group_start")" -ge "$(seconds "$last_end")" ] \
        || fail "group job $group_job started at $group_start, before the last task ended ($last_end)"
    # each job validated its input (the app finds bids-validator-deno beside its interpreter)
    local log
    for log in "$SLURM_LOG_DIR/fnirs-glm-participant-${array_job}"_*.out \
            "$SLURM_LOG_DIR/fnirs-glm-group-$group_job.out"; do
        grep -q "input validated with bids-validator-deno" "$log" || fail "$log: the input was not validated"
    done
    # the job-completion file: one line per task and one for the group job, each COMPLETED with exit 0
    local job
    for job in $(field JobId <<< "$lines") "$group_job"; do
        grep -q "^JobId=$job .*JobState=COMPLETED .*ExitCode=0:0" "$tmp/log/jobcomp.txt" \
            || fail "job $job: not COMPLETED with exit 0 in the job-completion file"
    done
    echo "job $array_job: $n tasks COMPLETED (exit 0:0), input validated; group job $group_job COMPLETED," \
         "started $group_start >= last task end $last_end"
}
check_requests() {  # JOBID CPUS MEMORY TIME [COMMENT]: what each of the job's records asked for
    local lines; lines=$(jobs_of "$1")
    local got; got=$(for f in CPUs/Task MinMemoryNode TimeLimit; do field "$f" <<< "$lines" | sort -u | xargs; done | xargs)
    [ "$got" = "$2 $3 $4" ] || fail "job $1 asked for CPUs/Task MinMemoryNode TimeLimit = $got, expected $2 $3 $4"
    if [ -n "${5:-}" ]; then
        [ "$(field Comment <<< "$lines" | sort -u)" = "$5" ] || fail "job $1: Comment is not $5"
    fi
    echo "job $1 asked for $2 CPU(s) per task, $3, $4${5:+, comment $5}"
}
check_expected() {  # BIDS OUTPUT: every recording's tables, every participant's report, the group outputs
    local bids=$1 out=$2 recording base participant missing=()
    while IFS= read -r recording; do
        base=${recording%_nirs.snirf}
        for suffix in design.tsv design.json desc-channel_stats.tsv desc-channel_stats.json desc-roi_stats.tsv \
                desc-roi_stats.json desc-qc_channels.tsv desc-qc_channels.json; do
            [ -s "$out/${base}_$suffix" ] || missing+=("${base}_$suffix")
        done
    done < <(cd "$bids" && find sub-* -name '*_nirs.snirf' | sort)
    for participant in $(bash scripts/slurm_participants.sh --list "$bids"); do
        [ -s "$out/sub-$participant.html" ] || missing+=("sub-$participant.html")
    done
    for name in dataset_description.json task-tapping_desc-roi_stats.tsv task-tapping_desc-channel_stats.tsv \
            task-tapping_report.html figures/task-tapping_desc-channel_topomap.png; do
        [ -s "$out/$name" ] || missing+=("$name")
    done
    [ "${#missing[@]}" = 0 ] || fail "$out: missing ${missing[*]}"
}
check_outputs() {  # OUTPUT REFERENCE BIDS: complete, valid, equal to the local run byte for byte (logs/ apart)
    "$validator" "$1" > "$tmp/validator.txt" 2>&1 || { cat "$tmp/validator.txt"; fail "$1: not valid BIDS"; }
    diff -r -x logs "$2" "$1" > "$tmp/diff.txt" || { head -n 40 "$tmp/diff.txt"; fail "$1 differs from $2"; }
    [ -n "$(find "$1"/logs -name 'group_*.json')" ] || fail "$1: no group run log"
    check_expected "$3" "$1"
    echo "$1: complete, valid BIDS, $(find "$1" -type f -not -path '*/logs/*' | wc -l) files equal to the local run's"
}

# The job script's own requests (#SBATCH lines, written as scontrol shows them: 2G, 01:00:00), which the
# README documents:
script_mem=$(sed -n 's/^#SBATCH --mem=\(.*\)/\1/p' scripts/slurm_participants.sh)
script_time=$(sed -n 's/^#SBATCH --time=\(.*\)/\1/p' scripts/slurm_participants.sh)
[[ -n $script_mem && -n $script_time ]] || fail "no #SBATCH --mem/--time in scripts/slurm_participants.sh"

# ---------------------------------------------------------------------------------- 3. local reference
begin "data: grptap copied, simulated study of $sim_subjects participants x 2 sessions"
grptap=$tmp/work/grptap
cp -r tests/data/grptap "$grptap"
sim=$tmp/work/sim
"$repo/.venv/bin/fnirs-glm-simulate" --subjects "$sim_subjects" --sessions 2 --duration 120 --seed 14 "$sim" >/dev/null
echo "$sim: $(find "$sim" -name '*_nirs.snirf' | wc -l) recordings"
end

begin "local runs (--n_cpus 2), the reference"
"$app" "$grptap" "$tmp/local/grptap" participant --n_cpus 2 2>"$tmp/local-grptap.log" || fail "local grptap run"
"$app" "$grptap" "$tmp/local/grptap" group 2>>"$tmp/local-grptap.log" || fail "local grptap group run"
local_started=$(date +%s.%N)
"$app" "$sim" "$tmp/local/sim" participant --n_cpus 2 2>"$tmp/local-sim.log" || fail "local simulated run"
"$app" "$sim" "$tmp/local/sim" group 2>>"$tmp/local-sim.log" || fail "local simulated group run"
local_seconds=$(elapsed "$local_started")
echo "simulated study: participant + group level in $local_seconds s"
end

export FNIRS_GLM_CMD=$app
export SLURM_LOG_DIR=$tmp/slurm-logs
unset PARTICIPANTS MAX_PARALLEL CPUS_PER_TASK SBATCH_ARGS SIF

# --------------------------------------------------------------------------------------------- 4. SLURM
begin "SLURM a: grptap, default settings"
submit "$grptap" "$tmp/slurm/a"
check_requests "$array_job" 1 "$script_mem" "$script_time"
wait_jobs "$array_job" "$group_job"
check_completed 2
check_requests "$group_job" 1 "$script_mem" "$script_time"
check_outputs "$tmp/slurm/a" "$tmp/local/grptap" "$grptap"
end

begin "SLURM b: grptap, MAX_PARALLEL=1, SBATCH_ARGS"
MAX_PARALLEL=1 SBATCH_ARGS="--mem=1500M --time=20 --comment=fnirs-glm-ci" submit "$grptap" "$tmp/slurm/b"
throttle=$(jobs_of "$array_job" | field ArrayTaskThrottle | sort -u)
[ "$throttle" = 1 ] || fail "job $array_job: ArrayTaskThrottle=$throttle, not 1"
wait_jobs "$array_job" "$group_job"
check_completed 2
for job in "$array_job" "$group_job"; do check_requests "$job" 1 1500M 00:20:00 fnirs-glm-ci; done
first_end=$(jobs_of "$array_job" | field EndTime | sort | head -n 1)
late_start=$(jobs_of "$array_job" | field StartTime | sort | tail -n 1)
[ "$(seconds "$late_start")" -ge "$(seconds "$first_end")" ] \
    || fail "MAX_PARALLEL=1: a task started at $late_start, before the other ended at $first_end"
echo "MAX_PARALLEL=1: ArrayTaskThrottle=1, the second task started ($late_start) after the first ended ($first_end)"
check_outputs "$tmp/slurm/b" "$tmp/local/grptap" "$grptap"
end

begin "SLURM c: grptap with sub-02 truncated, CPUS_PER_TASK=2; then the recovery"
broken=sub-02/ses-01/nirs/sub-02_ses-01_task-tapping_nirs.snirf
head -c 1000 "tests/data/grptap/$broken" > "$grptap/$broken"
CPUS_PER_TASK=2 submit "$grptap" "$tmp/slurm/c"
wait_jobs "$array_job" "$group_job"
check_requests "$array_job" 2 "$script_mem" "$script_time"
lines=$(jobs_of "$array_job")
failed_task=$(grep ' JobState=FAILED ' <<< "$lines" | field ArrayTaskId)
[[ $failed_task == 2 && $(grep ' JobState=FAILED ' <<< "$lines" | field ExitCode) == 1:0 ]] \
    || fail "expected task 2 FAILED with exit 1:0; got: $(field JobState <<< "$lines" | xargs)"
grep ' ArrayTaskId=1 ' <<< "$lines" | grep -q ' JobState=COMPLETED ' || fail "task 1 did not complete"
group_state=$(jobs_of "$group_job" | field JobState)
group_reason=$(jobs_of "$group_job" | field Reason)
[ "$group_state" = CANCELLED ] || fail "group job $group_job: $group_state, not CANCELLED"
[[ -z $(find "$tmp/slurm/c" -maxdepth 1 -name 'task-*') && -z $(find "$tmp/slurm/c/logs" -name 'group_*') ]] \
    || fail "the cancelled group job wrote outputs"
grep -q -- "--n_cpus 2" "$SLURM_LOG_DIR/fnirs-glm-participant-${array_job}_1.out" || fail "task 1 did not get --n_cpus 2"
grep -q '"n_cpus": 2' "$tmp"/slurm/c/logs/participant_*.json || fail "the app did not record n_cpus 2"
grep -q "$broken: cannot read the recording" "$SLURM_LOG_DIR/fnirs-glm-participant-${array_job}_2.out" \
    || fail "task 2's log does not name the broken file"
echo "task 2 FAILED (exit 1:0, its log names $broken), task 1 COMPLETED with 2 CPUs and --n_cpus 2;" \
     "group job $group_job $group_state ($group_reason), no group output"
# The README's recovery: fix the data, rerun the failed task, then the group level.
cp "tests/data/grptap/$broken" "$grptap/$broken"
rerun_job=$(sbatch --parsable --wait --array="$failed_task" --output="$SLURM_LOG_DIR/rerun-%A_%a.out" \
    scripts/slurm_participants.sh "$grptap" "$tmp/slurm/c") || fail "the rerun of task $failed_task failed"
group_job=$(sbatch --parsable --wait --output="$SLURM_LOG_DIR/group-%j.out" \
    scripts/slurm_participants.sh --group "$grptap" "$tmp/slurm/c") || fail "the group job failed"
for job in "$rerun_job" "$group_job"; do
    [ "$(jobs_of "$job" | field JobState)" = COMPLETED ] || fail "recovery job $job: not COMPLETED"
done
echo "recovery: task $failed_task rerun (job $rerun_job), then the group level (job $group_job): both COMPLETED"
check_outputs "$tmp/slurm/c" "$tmp/local/grptap" "$grptap"
end

begin "SLURM d: the simulated study ($sim_subjects participants), default settings"
slurm_started=$(date +%s.%N)
submit "$sim" "$tmp/slurm/sim"
wait_jobs "$array_job" "$group_job"
slurm_seconds=$(elapsed "$slurm_started")
check_completed "$sim_subjects"
check_outputs "$tmp/slurm/sim" "$tmp/local/sim" "$sim"
throughput=$(awk -v n="$sim_subjects" -v s="$slurm_seconds" -v l="$local_seconds" -v c="$(nproc)" 'BEGIN {
    printf "throughput, %d participants x 2 sessions, %d CPUs: SLURM (1 CPU per task) %.1f participants/min " \
           "(%.1f s from submission to the end of the group job); local --n_cpus 2 %.1f participants/min (%.1f s)",
           n, c, 60 * n / s, s, 60 * n / l, l }')
echo "$throughput"
end

# ----------------------------------------------------------------------------- 5. --n_cpus inside a job
begin "--n_cpus defaults to SLURM_CPUS_PER_TASK inside a job"
n_cpus=$(srun --cpus-per-task=2 "$repo/.venv/bin/python" -c \
    'from bids_app.cli import parse_args; print(parse_args(["in", "out", "participant"]).n_cpus)')
[ "$n_cpus" = 2 ] || fail "srun --cpus-per-task=2: --n_cpus defaulted to $n_cpus"
echo "srun --cpus-per-task=2: --n_cpus defaults to 2"
end
