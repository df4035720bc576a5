#!/usr/bin/env bash
# The demo: set up a virtual environment (.venv, from the pinned requirements), simulate the 5-participant
# finger-tapping study of the MNE-NIRS group tutorial (known responses; demo/bids), run the participant
# level and then the group level (demo/output), and print where the reports are.
# A few minutes on a 2-core machine, most of it the installation. Rerunning skips what is done.
#   bash scripts/demo.sh [DEMO_DIR]        (default: demo, in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
demo=${1:-demo}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import mne, nilearn" 2>/dev/null; then
    echo "== setting up .venv (pip install -r requirements.txt .)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -r requirements.txt .
else  # the app itself from this clone, so that the demo never runs an older installed copy
    .venv/bin/pip install --quiet --no-deps .
fi
if [ ! -f "$demo/bids/dataset_description.json" ]; then
    echo "== simulating the 5-participant tapping study into $demo/bids"
    .venv/bin/fnirs-glm-simulate "$demo/bids" --subjects 5 --seed 1
fi
echo "== participant level"
.venv/bin/fnirs-glm "$demo/bids" "$demo/output" participant --n_cpus 2 \
    --contrast "Tapping/Left - Tapping/Right"
echo "== group level"
.venv/bin/fnirs-glm "$demo/bids" "$demo/output" group --topomap-q-threshold 0.05
echo
echo "Group report:        $demo/output/task-tapping_report.html"
echo "Participant reports: $demo/output/sub-0[1-5].html"
echo "Simulated truth:     $demo/bids/sourcedata/ground_truth/"
