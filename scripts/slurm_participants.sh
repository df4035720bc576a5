#!/usr/bin/env bash
#SBATCH --job-name=fnirs-glm
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=01:00:00
# fnirs-glm on SLURM with Apptainer/Singularity: one participant per array task, then the group level.
#
#   sbatch --array=1-N scripts/slurm_participants.sh BIDS_DIR OUTPUT_DIR [fnirs-glm options]
#       array task i analyses the i-th participant of the sorted sub-* directories of BIDS_DIR (1-based)
#   sbatch --dependency=afterok:JOBID scripts/slurm_participants.sh --group BIDS_DIR OUTPUT_DIR [options]
#       the group level, once every task of the array job JOBID has succeeded
#   scripts/slurm_participants.sh --list BIDS_DIR
#       prints the participants in task order (N is their number)
# scripts/slurm_submit.sh counts N and submits both jobs.
# Requests (sbatch options on the command line override them, e.g. --mem=8G --time=04:00:00): 1 CPU, 2 GB
# and 1 hour per job. Measured: a participant of two 45-minute recordings (56 channels, 7.8 Hz) peaks at
# 0.33 GB and takes under 10 s with one CPU; each further CPU (process) adds about 0.3 GB.
#
# Each job runs
#   apptainer run --containall --cleanenv -B BIDS_DIR:/data:ro -B OUTPUT_DIR:/out $SIF /data /out participant \
#       --participant_label LABEL --n_cpus $SLURM_CPUS_PER_TASK [options]
# (singularity when apptainer is not installed; --n_cpus is given because --cleanenv keeps SLURM's
# variables out of the container). Environment:
#   SIF             the image (default: fnirs-glm.sif in the directory the job was submitted from)
#   PARTICIPANTS    labels separated by spaces, to use instead of every sub-* directory
#   FNIRS_GLM_CMD   a command (split on white space) to run instead of the container, given the host
#                   paths: e.g. "fnirs-glm" for an installed app, or "python /path/to/run.py"
# Files named in the options (--config, --roi-file) must be visible in the container: give them under a
# directory that Apptainer binds (your home directory, by default) or add it to APPTAINER_BIND.
set -euo pipefail

die() { echo "slurm_participants.sh: error: $*" >&2; exit 2; }

list_participants() {  # the participants in task order, one label a line, without "sub-"
    if [ -n "${PARTICIPANTS:-}" ]; then
        local label
        for label in $PARTICIPANTS; do echo "${label#sub-}"; done
    else
        local dir
        for dir in "$1"/sub-*/; do
            [ -d "$dir" ] || continue
            dir=${dir%/}
            dir=${dir##*/}
            echo "${dir#sub-}"
        done | LC_ALL=C sort
    fi
}

level=participant
case "${1:-}" in
    --list)
        [ $# -eq 2 ] || die "usage: $0 --list BIDS_DIR"
        [ -d "$2" ] || die "$2: BIDS directory not found"
        list_participants "$2"
        exit 0 ;;
    --group) level=group; shift ;;
esac
[ $# -ge 2 ] || die "usage: sbatch --array=1-N $0 [--group] BIDS_DIR OUTPUT_DIR [fnirs-glm options]"
[ -d "$1" ] || die "$1: BIDS directory not found"
bids_dir=$(cd "$1" && pwd -P)
mkdir -p "$2"
output_dir=$(cd "$2" && pwd -P)
shift 2

mapfile -t labels < <(list_participants "$bids_dir")
if [ "$level" = participant ]; then
    task=${SLURM_ARRAY_TASK_ID:-}
    [ -n "$task" ] || die "SLURM_ARRAY_TASK_ID is not set: submit with sbatch --array=1-${#labels[@]}"
    if ! { [ "$task" -ge 1 ] && [ "$task" -le "${#labels[@]}" ]; } 2>/dev/null; then
        die "array task $task: there are ${#labels[@]} participants (use --array=1-${#labels[@]})"
    fi
    args=(participant --participant_label "${labels[task - 1]}" --n_cpus "${SLURM_CPUS_PER_TASK:-1}")
else
    args=(group)
    if [ -n "${PARTICIPANTS:-}" ]; then args+=(--participant_label "${labels[@]}"); fi
fi

if [ -n "${FNIRS_GLM_CMD:-}" ]; then
    read -r -a cmd <<< "$FNIRS_GLM_CMD"
    cmd+=("$bids_dir" "$output_dir")
else
    sif=${SIF:-fnirs-glm.sif}
    [ -f "$sif" ] || die "$sif: Apptainer image not found (set SIF, or FNIRS_GLM_CMD to run without one)"
    runner=$(command -v apptainer || command -v singularity) || die "neither apptainer nor singularity found"
    cmd=("$runner" run --containall --cleanenv -B "$bids_dir:/data:ro" -B "$output_dir:/out" "$sif" /data /out)
fi
echo "slurm_participants.sh: ${cmd[*]} ${args[*]} $*" >&2
exec "${cmd[@]}" "${args[@]}" "$@"
