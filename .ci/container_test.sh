#!/usr/bin/env bash
# Container test (CI), in the style of the BIDS-Apps example CI:
#   1. install podman, buildah, runc and debootstrap when missing (apt-get; needs root);
#   2. build the image with scripts/build_container_local.sh (debootstrapped local base, host-built wheels,
#      podman build), without its own smoke checks: this script does them;
#   3. `--version` in the container must print "fnirs-glm $(cat version)";
#   4. participant level for sub-01 and sub-02 of tests/data/grptap as two containers started at the same
#      time, both writing into one output directory;
#   5. group level in a third container.
#   Every container: --read-only --tmpfs /tmp --network none --user <non-root uid:gid>, input mounted :ro.
#   6. checks: dataset_description.json, each recording's channel table, the group tables, reports, figures, both participant
#      run logs, file ownership, no leftovers, the input unchanged (checksums before/after), and the BIDS
#      validator (bids-validator-deno, inside the image) on the output directory.
# Prints the time of each stage and the image size; exits non-zero with a message on the first failure.
# Temporary files are removed; the image is kept.
#
# Usage (as root, from anywhere):  bash .ci/container_test.sh
# Environment:
#   IMAGE           image to build and test (default localhost/fnirs-glm:$(cat version))
#   BASE_IMAGE      local base image, debootstrapped when missing (default localhost/debian-base:bookworm)
#   PYTHON          host Python 3.11 with pip, for the wheels (default .venv/bin/python if present, else python3)
#   CONTAINER_USER  uid:gid the containers run as (default 12345:12345; must not be root)
#   SKIP_BUILD=1    test an existing $IMAGE without building it
#   REMOVE_IMAGE=1  remove $IMAGE at the end
#   KEEP_TMP=1      keep the temporary directory (outputs, logs) and say where
#   DEBIAN_MIRROR   passed on to the build script (debootstrap mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

version=$(cat version)
export IMAGE=${IMAGE:-localhost/fnirs-glm:$version}
user=${CONTAINER_USER:-12345:12345}
data=tests/data/grptap
recordings=(sub-01/ses-01/nirs/sub-01_ses-01_task-tapping sub-01/ses-02/nirs/sub-01_ses-02_task-tapping
            sub-02/ses-01/nirs/sub-02_ses-01_task-tapping)
prefix=fnirs-glm-ci-$$

# ---------------------------------------------------------------------------------------------- helpers
test_name="container test" tmp="" containers=()
# shellcheck source=.ci/stages.sh
source .ci/stages.sh
show_log() { echo "---- $1"; sed 's/^/    /' "$2"; }

cleanup() {
    local code=$?
    set +e
    if [ "${#containers[@]}" -gt 0 ]; then podman rm -f -i "${containers[@]}" >/dev/null 2>&1; fi
    if [ -n "$tmp" ]; then
        if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
    fi
    if [ "${REMOVE_IMAGE:-0}" = 1 ]; then podman rmi -f "$IMAGE" >/dev/null 2>&1 && echo "removed $IMAGE"; fi
    print_timings 58
    if [ -n "${size_human:-}" ]; then echo "   image size: $size_human"; fi
    if [ "$code" = 0 ]; then
        echo "container test passed: $IMAGE"
    else
        echo "container test FAILED (exit $code, stage '$stage')" >&2
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || fail "run as root (podman here runs rootful; apt-get and debootstrap need root)"
case $user in
    0|0:*|root|root:*) fail "CONTAINER_USER must not be root (got $user)" ;;
    *:*) ;;
    *) fail "CONTAINER_USER must be uid:gid (got $user)" ;;
esac
uid=${user%%:*}

# ---------------------------------------------------------------------------------------------- 1. tools
begin "install tools"
missing=()
for tool in podman buildah runc debootstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; then
        PYTHON=$repo/.venv/bin/python
    else
        PYTHON=python3
        "$PYTHON" -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    fi
fi
export PYTHON
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: podman buildah runc debootstrap ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"${TMPDIR:-/tmp}/$prefix-apt.log" 2>&1 \
        && apt-get install -y -qq podman buildah runc debootstrap "${missing[@]}" >>"${TMPDIR:-/tmp}/$prefix-apt.log" 2>&1 \
        || { tail -n 30 "${TMPDIR:-/tmp}/$prefix-apt.log" >&2; rm -f "${TMPDIR:-/tmp}/$prefix-apt.log"
             fail "apt-get install podman buildah runc debootstrap ${missing[*]} failed (log above)"; }
    rm -f "${TMPDIR:-/tmp}/$prefix-apt.log"
fi
for tool in podman buildah runc debootstrap python3 sha256sum; do
    command -v "$tool" >/dev/null || fail "$tool is still missing after apt-get install"
done
"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "$PYTHON has no pip (set PYTHON to a Python 3.11 with pip)"
echo "podman $(podman --version | awk '{print $NF}'), runc $(runc --version | awk 'NR==1 {print $NF}'), wheels with $PYTHON"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fnirs-glm-ci.XXXXXX")
# podman run here needs runc and explicit ulimits: scripts/containers.conf (unless CONTAINERS_CONF is set).
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
end

# ---------------------------------------------------------------------------------------------- 2. build
if [ "${SKIP_BUILD:-0}" = 1 ]; then
    podman image exists "$IMAGE" || fail "SKIP_BUILD=1 but there is no image $IMAGE"
    echo "SKIP_BUILD=1: testing the existing $IMAGE"
else
    begin "build image (scripts/build_container_local.sh)"
    SKIP_CHECKS=1 bash scripts/build_container_local.sh "$IMAGE" \
        || fail "scripts/build_container_local.sh $IMAGE failed (output above)"
    end
fi
size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE") || fail "no image $IMAGE after the build"
size_human=$(awk -v b="$size_bytes" 'BEGIN { printf "%.2f GB (%d MB)", b / 1e9, b / 1e6 }')
echo "image $IMAGE: $size_human"

run=(podman run --rm --read-only --tmpfs /tmp --network none --user "$user")

# ---------------------------------------------------------------------------------------------- 3. --version
begin "--version"
containers+=("$prefix-version")
got=$("${run[@]}" --name "$prefix-version" "$IMAGE" --version) || fail "--version exited non-zero"
[ "$got" = "fnirs-glm $version" ] || fail "--version printed '$got', expected 'fnirs-glm $version'"
echo "$got"
end

# ---------------------------------------------------------------------------------------------- 4. participant
# The container user must be able to read the input (a checkout made with a strict umask is not).
unreadable=$(find "$data" \( -type f ! -perm -o=r \) -o \( -type d ! -perm -o=rx \) | head -n 5)
[ -z "$unreadable" ] || fail "files of $data are not readable by other users, so not by the container user $user" \
    "(e.g. $unreadable): check out with umask 022, or chmod -R o+rX $data"
tree_listing() {  # type, mode, size and sha256 of everything under $1
    (cd "$1" && find . -printf '%y %m %s %p\n' | LC_ALL=C sort \
        && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
tree_listing "$data" > "$tmp/input-before.txt"
echo "input $data: $(grep -c '^f ' "$tmp/input-before.txt") files, sha256 of the listing" \
     "$(sha256sum < "$tmp/input-before.txt" | cut -c1-16)"

out=$tmp/out
mkdir "$out"
chown "$user" "$out"
mounts=(-v "$repo/$data:/data:ro" -v "$out:/out")

begin "participant level (sub-01, sub-02: 2 concurrent containers)"
pids=()
for sub in 01 02; do
    containers+=("$prefix-sub-$sub")
    "${run[@]}" --name "$prefix-sub-$sub" "${mounts[@]}" "$IMAGE" \
        /data /out participant --participant_label "$sub" </dev/null >"$tmp/sub-$sub.log" 2>&1 &
    pids+=($!)
done
failed=()
for i in 0 1; do
    sub=$(printf '%02d' $((i + 1)))
    code=0
    wait "${pids[$i]}" || code=$?
    show_log "participant sub-$sub (exit $code)" "$tmp/sub-$sub.log"
    [ "$code" = 0 ] || failed+=("sub-$sub (exit $code)")
done
[ "${#failed[@]}" = 0 ] || fail "participant level failed for ${failed[*]} (logs above)"
end

# ---------------------------------------------------------------------------------------------- 5. group
begin "group level"
containers+=("$prefix-group")
code=0
"${run[@]}" --name "$prefix-group" "${mounts[@]}" "$IMAGE" /data /out group </dev/null >"$tmp/group.log" 2>&1 \
    || code=$?
show_log "group (exit $code)" "$tmp/group.log"
[ "$code" = 0 ] || fail "group level exited $code (log above)"
end

# ---------------------------------------------------------------------------------------------- 6. checks
begin "check outputs and input"
tree_listing "$data" > "$tmp/input-after.txt"
if ! cmp -s "$tmp/input-before.txt" "$tmp/input-after.txt"; then
    diff "$tmp/input-before.txt" "$tmp/input-after.txt" | head -n 20 >&2 || true
    fail "the input $data changed during the runs (diff above)"
fi
echo "input unchanged"
not_owned=$(find "$out" ! -uid "$uid" | head -n 5)
[ -z "$not_owned" ] || fail "output files not owned by the container user $uid: $not_owned"
leftovers=$(find "$out" -name '*.tmp' | head -n 5)
[ -z "$leftovers" ] || fail "temporary files left in the output: $leftovers"
python3 - "$out" "$version" "${recordings[@]}" <<'EOF' || fail "output check failed (message above)"
import csv, json, sys
from pathlib import Path

out, version, recordings = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
problems = []

def table(path, columns):
    """Rows of a TSV that must exist, have `columns` and at least one row."""
    if not path.is_file():
        problems.append(f"missing {path.relative_to(out)}")
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    header = rows[0].keys() if rows else []
    if not rows:
        problems.append(f"{path.relative_to(out)}: no rows")
    elif not set(columns) <= set(header):
        problems.append(f"{path.relative_to(out)}: columns {sorted(set(columns) - set(header))} missing")
    if not path.with_suffix(".json").is_file():
        problems.append(f"missing sidecar {path.with_suffix('.json').relative_to(out)}")
    return rows

description = out / "dataset_description.json"
if not description.is_file():
    problems.append("missing dataset_description.json")
else:
    d = json.loads(description.read_text())
    g = (d.get("GeneratedBy") or [{}])[0]
    if d.get("DatasetType") != "derivative":
        problems.append(f"dataset_description.json: DatasetType {d.get('DatasetType')!r}, not 'derivative'")
    if (g.get("Name"), g.get("Version")) != ("fnirs-glm", version):
        problems.append(f"dataset_description.json: GeneratedBy {g.get('Name')!r} {g.get('Version')!r}")
    if g.get("Container") != {"Type": "podman", "Tag": f"fnirs-glm:{version}"}:
        problems.append(f"dataset_description.json: GeneratedBy.Container {g.get('Container')!r}")

for rec in recordings:
    rows = table(out / f"{rec}_desc-channel_stats.tsv", ["ch_name", "chroma", "condition", "effect", "se", "t", "p"])
    print(f"{rec}_desc-channel_stats.tsv: {len(rows)} rows")
found = sorted(str(p.relative_to(out)) for p in out.glob("sub-*/**/*_desc-channel_stats.tsv"))
if len(found) != len(recordings):
    problems.append(f"{len(found)} participant channel tables, expected {len(recordings)}: {found}")

for name, columns in [("roi", ["roi", "chroma", "condition", "effect", "se", "p", "n"]),
                      ("channel", ["ch_name", "chroma", "condition", "effect", "se", "p", "n"])]:
    rows = table(out / f"task-tapping_desc-{name}_stats.tsv", columns)
    n = max((int(float(r["n"])) for r in rows if r.get("n") not in (None, "", "n/a")), default=0)
    print(f"task-tapping_desc-{name}_stats.tsv: {len(rows)} rows, up to n = {n} participants")
    if rows and n != 2:
        problems.append(f"task-tapping_desc-{name}_stats.tsv: at most {n} participants per row, expected 2")

for name in ["sub-01.html", "sub-02.html", "task-tapping_report.html",
             "figures/task-tapping_desc-channel_topomap.png", "figures/task-tapping_desc-roi_effects.png"]:
    if not (out / name).is_file() or (out / name).stat().st_size < 1000:
        problems.append(f"missing or empty {name}")

logs = sorted((out / "logs").glob("participant_*.json"))  # one per participant-level container
if len(logs) != 2:
    problems.append(f"logs/: {len(logs)} participant run logs, expected 2 (one per container)")

for p in problems:
    print("PROBLEM:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
echo "outputs complete: $(find "$out" -type f | wc -l) files"
end

begin "BIDS validator on the output (in the image)"
containers+=("$prefix-validator")
code=0
"${run[@]}" --name "$prefix-validator" -v "$out:/out:ro" --entrypoint /opt/venv/bin/bids-validator-deno \
    "$IMAGE" --format json /out </dev/null >"$tmp/validator.json" 2>"$tmp/validator.err" || code=$?
python3 - "$tmp/validator.json" "$code" <<'EOF' || { show_log "validator stderr" "$tmp/validator.err"; fail "the BIDS validator failed on the output (above)"; }
import json, sys
from collections import Counter

path, code = sys.argv[1], int(sys.argv[2])
try:
    issues = json.load(open(path))["issues"]["issues"]
except Exception as e:  # not JSON: the validator itself failed
    print(f"no JSON report from the validator (exit {code}): {e}", file=sys.stderr)
    sys.exit(1)
severity = Counter(i.get("severity") for i in issues)
errors = [i for i in issues if i.get("severity") == "error"]
print(f"validator exit {code}: {severity['error']} error(s), {severity['warning']} warning(s)")
for i in issues:
    if i.get("severity") in ("error", "warning"):
        print(f"  {i['severity']}: {i.get('code')} {i.get('location', '')} {i.get('issueMessage', '') or ''}"[:300],
              file=sys.stderr if i["severity"] == "error" else sys.stdout)
sys.exit(1 if errors or code != 0 else 0)
EOF
end

