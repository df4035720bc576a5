#!/usr/bin/env bash
# Submit fnirs-glm to SLURM: an array job with one participant per task, then the group level as a job
# that starts once every task has succeeded (--dependency=afterok).
#
#   scripts/slurm_submit.sh BIDS_DIR OUTPUT_DIR [-- fnirs-glm options for both levels]
#
# The participants are the sub-* directories of BIDS_DIR (or $PARTICIPANTS); each task runs
# scripts/slurm_participants.sh, i.e. the Apptainer image $SIF (default ./fnirs-glm.sif). Environment:
#   SIF, PARTICIPANTS, FNIRS_GLM_CMD   as in scripts/slurm_participants.sh
#   CPUS_PER_TASK    CPUs of each participant job, passed on as --n_cpus (default 1)
#   MAX_PARALLEL     at most this many participant jobs at once (default: no limit)
#   SBATCH_ARGS      more sbatch options for both jobs, e.g. "--account=abc --partition=short --mem=8G"
#   SLURM_LOG_DIR    where the jobs' output goes (default ./slurm-logs; never inside OUTPUT_DIR)
set -euo pipefail

die() { echo "slurm_submit.sh: error: $*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: $0 BIDS_DIR OUTPUT_DIR [-- fnirs-glm options]"
[ -d "$1" ] || die "$1: BIDS directory not found"
[ -f "$1/dataset_description.json" ] || die "$1: not a BIDS dataset (no dataset_description.json)"
bids_dir=$(cd "$1" && pwd -P)
mkdir -p "$2"
output_dir=$(cd "$2" && pwd -P)
shift 2
if [ "${1:-}" = "--" ]; then shift; fi

job_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/slurm_participants.sh"
mapfile -t labels < <(bash "$job_script" --list "$bids_dir")
n=${#labels[@]}
[ "$n" -gt 0 ] || die "$bids_dir: no sub-* directory (or PARTICIPANTS is empty)"

if [ -z "${FNIRS_GLM_CMD:-}" ]; then
    sif=${SIF:-fnirs-glm.sif}
    [ -f "$sif" ] || die "$sif: Apptainer image not found (build it, see scripts/fnirs-glm.def, or set SIF)"
    SIF="$(cd "$(dirname "$sif")" && pwd -P)/$(basename "$sif")"
    export SIF
fi
log_dir=${SLURM_LOG_DIR:-slurm-logs}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd -P)
read -r -a extra_sbatch <<< "${SBATCH_ARGS:-}"

job_id() {  # the job id in sbatch's answer ("Submitted batch job 123", or "123[;cluster]" with --parsable)
    local answer=$1 id
    id=$(sed -n 's/^Submitted batch job \([0-9][0-9]*\).*/\1/p' <<< "$answer" | tail -n 1)
    [ -n "$id" ] || id=$(sed -n 's/^\([0-9][0-9]*\)\(;.*\)\{0,1\}$/\1/p' <<< "$answer" | tail -n 1)
    [ -n "$id" ] || die "sbatch answered: $answer"
    echo "$id"
}

array="1-$n${MAX_PARALLEL:+%$MAX_PARALLEL}"
answer=$(sbatch --export=ALL --array="$array" --cpus-per-task="${CPUS_PER_TASK:-1}" \
    --job-name=fnirs-glm-participant --output="$log_dir/fnirs-glm-participant-%A_%a.out" \
    ${extra_sbatch[@]+"${extra_sbatch[@]}"} "$job_script" "$bids_dir" "$output_dir" "$@")
participant_job=$(job_id "$answer")
echo "participant level: job $participant_job, array $array (${labels[*]})"

answer=$(sbatch --export=ALL --dependency="afterok:$participant_job" --kill-on-invalid-dep=yes \
    --job-name=fnirs-glm-group --output="$log_dir/fnirs-glm-group-%j.out" \
    ${extra_sbatch[@]+"${extra_sbatch[@]}"} "$job_script" --group "$bids_dir" "$output_dir" "$@")
group_job=$(job_id "$answer")
echo "group level: job $group_job, after job $participant_job succeeds"
