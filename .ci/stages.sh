# shellcheck shell=bash disable=SC2034  # (the arrays and started are read by the sourcing script)
# Stages of a CI test script, sourced by it after setting test_name: `begin NAME` ... `end` time each stage
# (kept in stage_names/stage_times for the summary), `fail MESSAGE` names the stage that failed.
stage_names=() stage_times=() stage=setup started=$(date +%s.%N) stage_started=$started

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
begin() { stage=$1; stage_started=$(date +%s.%N); echo; echo "== $stage"; }
end() {
    local took; took=$(elapsed "$stage_started")
    stage_names+=("$stage"); stage_times+=("$took"); echo "-- $stage: ${took} s"
}
fail() { echo "${test_name:?set by the sourcing script} FAILED in stage '$stage': $*" >&2; exit 1; }
print_timings() {  # [WIDTH]: each stage's time and the total, for the cleanup at exit
    local i width=${1:-72}
    echo
    echo "== timings"
    for i in "${!stage_names[@]}"; do printf "   %-${width}s %7s s\n" "${stage_names[$i]}" "${stage_times[$i]}"; done
    printf "   %-${width}s %7s s\n" total "$(elapsed "$started")"
}
