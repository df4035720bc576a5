#!/usr/bin/env bash
# Apptainer test (CI): the README's Apptainer and cluster commands with the real apptainer runtime.
#   1. a Debian unstable root with apptainer $APPTAINER_VERSION (Debian bookworm has no apptainer; unstable's
#      needs a newer C library), made with debootstrap and cached in $APPTAINER_CACHE between runs; apptainer
#      runs in it through `unshare --mount` + `pivot_root` (it refuses a plain chroot), so every mount lives
#      only in that namespace. The pinned version missing from the archive fails the test in one line;
#   2. the image that .ci/container_test.sh built ($IMAGE), rebuilt with scripts/build_container_local.sh
#      when it is missing or was built from other sources than this tree, converted as the README says:
#      `podman save -o fnirs-glm.tar IMAGE` then `apptainer build fnirs-glm.sif docker-archive://fnirs-glm.tar`;
#   3. as root: `apptainer run --containall --cleanenv -B BIDS:/data:ro -B OUT:/out fnirs-glm.sif /data /out
#      participant --participant_label 01` and the same for 02 as two concurrent processes, then the group
#      level, on a copy of the bundled recordings (tests/data/grptap);
#   4. as a non-root user (uid 65534: apptainer in user-namespace mode, unpacking the SIF, as on clusters
#      without setuid), the same commands, the group level with --no-home (the app needs no writable HOME);
#   5. through SLURM (the single-node SLURM of .ci/slurm_test.sh, started here on other ports):
#      `SIF=.../fnirs-glm.sif scripts/slurm_submit.sh BIDS OUT` with apptainer on the jobs' PATH: the array
#      job and the dependent group job COMPLETED;
#   and checks: the outputs of 3 equal the installed app's (`.venv/bin/fnirs-glm`, the reference) byte for
#   byte but for the version and path fields that must differ (the Python version in the design sidecars
#   and the reports, the report digest over those sidecars, GeneratedBy.Container and the source URL in
#   dataset_description.json);
#   those of 4 and 5 equal those of 3 byte for byte (logs/ apart; 4: the Container record apart); every
#   output passes the BIDS validator (bids-validator-deno, in the image); the input is untouched and a
#   write into the read-only input bind fails; GeneratedBy.Container names Apptainer and the image.
# Prints the time of each stage and the SIF size; exits non-zero with a message on the first failure.
# Stops what it started by pid, removes its temporary directory; leaves only $APPTAINER_CACHE.
#
# Usage (as root, from anywhere, after .ci/run made .venv):  bash .ci/apptainer_test.sh
# Environment:
#   IMAGE              podman image to convert (default localhost/fnirs-glm:$(cat version))
#   APPTAINER_CACHE    the cached unstable root (default /var/cache/fnirs-glm-ci-apptainer)
#   DEBIAN_MIRROR      debootstrap's mirror (default: debootstrap's own)
#   NO_SLURM=1         skip step 5;  KEEP_TMP=1  keep the temporary directory and say where
#   SLURMCTLD_PORT / SLURMD_PORT   default 6827 / 6828
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# The pinned apptainer: Debian unstable's package version. Unstable moves: when this version leaves the
# archive the test fails saying so; then pin the new one here and in README.md ("Apptainer / Singularity").
APPTAINER_VERSION=1.4.5-2
version=$(cat version)
export IMAGE=${IMAGE:-localhost/fnirs-glm:$version}
cache=${APPTAINER_CACHE:-/var/cache/fnirs-glm-ci-apptainer}
app=$repo/.venv/bin/fnirs-glm
ctld_port=${SLURMCTLD_PORT:-6827}
slurmd_port=${SLURMD_PORT:-6828}
user=65534  # nobody: the non-root user of step 4

# ---------------------------------------------------------------------------------------------- helpers
test_name="Apptainer test" tmp="" sif_size="" building=0 background=()
# shellcheck source=.ci/stages.sh
source .ci/stages.sh
# shellcheck source=.ci/slurm_node.sh
source .ci/slurm_node.sh
show_log() { echo "---- $1"; sed 's/^/    /' "$2"; }

descendants() { local child; for child in $(pgrep -P "$1"); do descendants "$child"; echo "$child"; done; }
kill_tree() {  # PID: TERM it and its descendants (unshare ignores TERM; apptainer's starter passes it on), then
    local pids alive i   # KILL what is left after 10 s
    kill -0 "$1" 2>/dev/null || return 0
    pids=$(descendants "$1"; echo "$1")
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for i in $(seq 50); do
        alive=$(for pid in $pids; do if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi; done)
        [ -z "$alive" ] && return 0
        sleep 0.2
    done
    # shellcheck disable=SC2086
    kill -KILL $alive 2>/dev/null
}

cleanup() {
    local code=$?
    set +e
    local pid
    for pid in "${background[@]}"; do kill_tree "$pid"; done  # participant runs still going
    if [ -n "$tmp" ]; then
        stop_slurm_node "$tmp/slurm" "$code"
        if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
    fi
    if [ "$building" = 1 ]; then rm -rf "$cache/root.new"; fi
    print_timings 72
    if [ -n "$sif_size" ]; then echo "   fnirs-glm.sif: $sif_size"; fi
    if [ "$code" = 0 ]; then
        echo "Apptainer test passed: apptainer $APPTAINER_VERSION, $IMAGE"
    else
        echo "Apptainer test FAILED (exit $code, stage '$stage')" >&2
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, unshare, mounts, SLURM)"
[ -x "$app" ] || fail "$app missing: run .ci/run (or make .venv as it does)"

# ------------------------------------------------------------------------------------------- 1. tools
begin "install tools (when missing)"
missing=()
for tool in podman buildah runc debootstrap unshare flock; do command -v "$tool" >/dev/null || missing+=("$tool"); done
for tool in slurmctld slurmd munged; do [ -x "/usr/sbin/$tool" ] || missing+=("$tool"); done
command -v sbatch >/dev/null || missing+=(slurm-client)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: podman buildah runc debootstrap slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman buildah runc \
        debootstrap util-linux slurmctld slurmd slurm-client munge >/dev/null
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fnirs-glm-ci-apptainer.XXXXXX")
chmod 755 "$tmp"
mkdir "$tmp/bin"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/scripts/containers.conf}
end

# in-root ROOT CMD...: CMD in the Debian unstable root ROOT, in a mount namespace of its own: ROOT bound
# onto itself, fresh /proc, /sys and /dev from the host, tmpfs on /tmp, /var/tmp and /root (nothing that
# apptainer writes there survives), $tmp bound at its own path (the runs' files keep their host paths, as
# the SLURM job script needs), then pivot_root into ROOT and the old root detached. Every mount vanishes
# with the namespace. The command runs with a clean environment in the current directory when that is
# under $tmp (else in $tmp).
cat > "$tmp/bin/in-root" <<EOF
#!/bin/bash
set -euo pipefail
root=\$1; shift
dir=\$PWD
case \$dir in "$tmp"|"$tmp"/*) ;; *) dir="$tmp" ;; esac
exec unshare --mount --propagation private --fork --kill-child -- /bin/bash -euo pipefail -c '
    root=\$1 work=\$2 dir=\$3; shift 3
    mount --bind "\$root" "\$root"
    mount -t proc proc "\$root/proc"
    mount --rbind /sys "\$root/sys"
    mount --rbind /dev "\$root/dev"
    for d in tmp var/tmp root; do mount -t tmpfs -o mode=\$(stat -c %a "\$root/\$d") tmpfs "\$root/\$d"; done
    mkdir -p "\$root\$work" "\$root/.oldroot"
    mount --bind "\$work" "\$root\$work"
    cd "\$root"
    pivot_root . .oldroot
    cd /
    umount -l /.oldroot
    cd "\$dir"
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "\$@"
' in-root "\$root" "$tmp" "\$dir" "\$@"
EOF
chmod 755 "$tmp/bin/in-root"
in_root() { "$tmp/bin/in-root" "$@"; }

# ----------------------------------------------------------------------------------- 2. unstable root
begin "Debian unstable root with apptainer $APPTAINER_VERSION (cached in $cache)"
mkdir -p "$cache"
exec 9>"$cache/lock"
flock -w 900 9 || fail "$cache is locked by another run for 15 minutes"
root=$cache/root
cached_version() {  # the apptainer version installed in the cached root, or nothing
    [[ -x $root/usr/bin/apptainer && -s $cache/ready ]] || return 0
    dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' apptainer 2>/dev/null || true
}
if [ "$(cached_version)" = "$APPTAINER_VERSION" ]; then
    echo "cached: $root (apptainer $APPTAINER_VERSION, made $(cat "$cache/ready"))"
else
    building=1
    rm -rf "$root" "$cache/ready" "$cache/root.new"
    echo "debootstrap --variant=minbase sid (about 30-90 s)"
    debootstrap --variant=minbase sid "$cache/root.new" ${DEBIAN_MIRROR:-} >"$tmp/debootstrap.log" 2>&1 \
        || { tail -n 20 "$tmp/debootstrap.log" >&2; fail "debootstrap of Debian unstable failed (log above)"; }
    # The mirror's unstable Release file may look expired; apptainer build needs localhost in /etc/hosts.
    echo 'Acquire::Check-Valid-Until "false";' > "$cache/root.new/etc/apt/apt.conf.d/99fnirs-glm-ci"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$cache/root.new/etc/hosts"
    in_root "$cache/root.new" apt-get update -qq >"$tmp/apt.log" 2>&1 \
        || { tail -n 20 "$tmp/apt.log" >&2; fail "apt-get update in the unstable root failed (log above)"; }
    available=$(in_root "$cache/root.new" apt-cache madison apptainer | awk -F' [|] ' '{print $2}' | xargs)
    [[ " $available " == *" $APPTAINER_VERSION "* ]] || fail "apptainer $APPTAINER_VERSION is no longer in" \
        "Debian unstable (it has: ${available:-none}): pin the new version in .ci/apptainer_test.sh and README.md"
    in_root "$cache/root.new" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "apptainer=$APPTAINER_VERSION" >>"$tmp/apt.log" 2>&1 \
        || { tail -n 20 "$tmp/apt.log" >&2; fail "apt-get install apptainer=$APPTAINER_VERSION failed (log above)"; }
    in_root "$cache/root.new" apt-get clean
    rm -rf "$cache/root.new/var/lib/apt/lists/"*
    mv "$cache/root.new" "$root"
    date -u +%Y-%m-%dT%H:%M:%SZ > "$cache/ready"
fi
# This sandbox withholds capabilities (CAP_SYS_RESOURCE here) and apptainer as root asks for all of them
# by default ("root default capabilities = full"): then keep none, like --no-privs (a site setting, so the
# commands stay exactly the README's).
conf=$root/etc/apptainer/apptainer.conf
permitted=$(awk '/^CapPrm:/ {print $2}' /proc/self/status)
if (( (0x$permitted & 0x1ffffffffff) != 0x1ffffffffff )); then  # capabilities 0-40, which apptainer asks for
    sed -i 's/^root default capabilities = .*/root default capabilities = no/' "$conf"
else
    sed -i 's/^root default capabilities = .*/root default capabilities = full/' "$conf"
fi
echo "root default capabilities: $(sed -n 's/^root default capabilities = //p' "$conf")" \
     "(permitted capabilities here: $permitted)"
got=$(in_root "$root" apptainer --version) || fail "apptainer does not run in $root"
[ "$got" = "apptainer version ${APPTAINER_VERSION%-*}" ] || fail "apptainer --version printed '$got'"
echo "$got (Debian package $APPTAINER_VERSION), $(du -sh "$root" | cut -f1) root"
exec 9>&-  # the lock: held while the root is made
end
# apptainer on the PATH of the SLURM jobs: the same, entered afresh by each call
printf '#!/bin/bash\nexec %q %q apptainer "$@"\n' "$tmp/bin/in-root" "$root" > "$tmp/bin/apptainer"
chmod 755 "$tmp/bin/apptainer"
apptainer() { in_root "$root" apptainer "$@"; }

# ---------------------------------------------------------------------------------------------- 3. image
app_sources() {  # sha256 of the files the Dockerfile copies to /app, in the directory $1 (or the image)
    cd "$1" && find version pyproject.toml README.md run.py bids_app models -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort | xargs sha256sum
}
image_sources() {
    podman run --rm --network none --entrypoint sh "$IMAGE" -c \
        "cd /app && find version pyproject.toml README.md run.py bids_app models -type f ! -path '*/__pycache__/*' \
         ! -name '*.pyc' | LC_ALL=C sort | xargs sha256sum" 2>/dev/null
}
begin "the image $IMAGE (built by the container test, or here)"
reason=""
if ! podman image exists "$IMAGE"; then
    reason="there is no image $IMAGE"
elif ! cmp -s <(app_sources "$repo") <(image_sources); then
    changed=$(diff <(app_sources "$repo") <(image_sources) | sed -n 's/^[<>] [0-9a-f]*  //p' | sort -u | xargs || true)
    reason="$IMAGE was built from other sources than this tree (they differ in: ${changed:0:200})"
fi
if [ -n "$reason" ]; then
    echo "$reason: building it as .ci/container_test.sh does"
    PYTHON=${PYTHON:-$repo/.venv/bin/python} SKIP_CHECKS=1 KEEP_TMP=0 bash scripts/build_container_local.sh "$IMAGE" \
        || fail "scripts/build_container_local.sh $IMAGE failed (output above)"
    cmp -s <(app_sources "$repo") <(image_sources) || fail "the image just built does not hold this tree's sources"
else
    echo "$IMAGE holds this tree's sources"
fi
end

begin "convert: podman save, apptainer build fnirs-glm.sif docker-archive://fnirs-glm.tar"
save_started=$(date +%s.%N)
(cd "$tmp" && podman save -o fnirs-glm.tar "$IMAGE") >"$tmp/save.log" 2>&1 \
    || fail "podman save $IMAGE failed"
echo "podman save: $(elapsed "$save_started") s, $(du -m "$tmp/fnirs-glm.tar" | cut -f1) MB archive"
build_started=$(date +%s.%N)
(cd "$tmp" && apptainer build fnirs-glm.sif docker-archive://fnirs-glm.tar) >"$tmp/build.log" 2>&1 \
    || { tail -n 20 "$tmp/build.log" >&2; fail "apptainer build failed (log above)"; }
rm "$tmp/fnirs-glm.tar"
sif=$tmp/fnirs-glm.sif
sif_size="$(du -m "$sif" | cut -f1) MB, built in $(elapsed "$build_started") s"
echo "apptainer build: $sif_size"
end

# ------------------------------------------------------------------------------------ data, reference
begin "data (grptap copied) and the installed app's run, the reference"
bids=$tmp/bids
cp -r tests/data/grptap "$bids"
chmod -R a+rX "$bids"
tree_listing() {  # type, mode, size and sha256 of everything under $1
    (cd "$1" && find . -printf '%y %m %s %p\n' | LC_ALL=C sort \
        && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
tree_listing "$bids" > "$tmp/input-before.txt"
"$app" "$bids" "$tmp/local" participant --n_cpus 2 2>"$tmp/local.log" || { cat "$tmp/local.log"; fail "local run"; }
"$app" "$bids" "$tmp/local" group 2>>"$tmp/local.log" || { cat "$tmp/local.log"; fail "local group run"; }
tree_listing "$bids" > "$tmp/input-reference.txt"
cmp -s "$tmp/input-before.txt" "$tmp/input-reference.txt" || fail "the installed app's run changed its input $bids"
echo "$tmp/local: $(find "$tmp/local" -type f | wc -l) files"
end

run_levels() {  # NAME OUT RUNAS [GROUP_OPTION...]: the README's commands, two participants at once, then the group
    local name=$1 out=$2 runas=$3 pids=() failed=() i sub code
    shift 3
    mkdir "$out"
    local as=()
    if [ "$runas" != 0 ]; then
        chown "$runas:$runas" "$out"
        as=(setpriv --reuid="$runas" --regid="$runas" --clear-groups env HOME=/nonexistent)  # nobody's home
    fi
    local run=(apptainer run --containall --cleanenv -B "$bids:/data:ro" -B "$out:/out" "$sif")
    for sub in 01 02; do
        in_root "$root" ${as[@]+"${as[@]}"} "${run[@]}" /data /out participant --participant_label "$sub" \
            </dev/null >"$tmp/$name-sub-$sub.log" 2>&1 &
        pids+=($!)
        background+=($!)
    done
    for i in 0 1; do
        sub=$(printf '%02d' $((i + 1)))
        code=0
        wait "${pids[$i]}" || code=$?
        if [ "$code" != 0 ]; then
            show_log "participant sub-$sub (exit $code)" "$tmp/$name-sub-$sub.log"
            failed+=("sub-$sub exited $code")
        elif ! grep -q "input validated with bids-validator-deno" "$tmp/$name-sub-$sub.log"; then
            show_log "participant sub-$sub" "$tmp/$name-sub-$sub.log"
            failed+=("sub-$sub did not validate its input")
        fi
    done
    [ "${#failed[@]}" = 0 ] || fail "$name: participant level: $(printf '%s; ' "${failed[@]}")(logs above)"
    echo "participant level: sub-01 and sub-02 (concurrent) done"
    code=0
    in_root "$root" ${as[@]+"${as[@]}"} apptainer run --containall --cleanenv "$@" -B "$bids:/data:ro" \
        -B "$out:/out" "$sif" /data /out group </dev/null >"$tmp/$name-group.log" 2>&1 || code=$?
    [ "$code" = 0 ] || { show_log "group (exit $code)" "$tmp/$name-group.log"; fail "$name: group level exited $code"; }
    echo "group level${*:+ ($*)}: done"
}

check_input() {
    tree_listing "$bids" > "$tmp/input-after.txt"
    if ! cmp -s "$tmp/input-before.txt" "$tmp/input-after.txt"; then
        diff "$tmp/input-before.txt" "$tmp/input-after.txt" | head -n 20 >&2 || true
        fail "the input $bids changed (diff above)"
    fi
}

validate() {  # OUT: the BIDS validator of the image on OUT, no error
    apptainer exec --containall --cleanenv -B "$1:/out:ro" "$sif" bids-validator-deno --format json /out \
        </dev/null >"$tmp/validator.json" 2>"$tmp/validator.err" || true
    python3 - "$tmp/validator.json" <<'EOF' || { show_log "validator stderr" "$tmp/validator.err"; fail "$1: the BIDS validator found errors (above)"; }
import json, sys
from collections import Counter

try:
    issues = json.load(open(sys.argv[1]))["issues"]["issues"]
except Exception as e:  # not JSON: the validator itself failed
    print(f"no JSON report from the validator: {e}", file=sys.stderr)
    sys.exit(1)
severity = Counter(i.get("severity") for i in issues)
for i in issues:
    if i.get("severity") == "error":
        print(f"  error: {i.get('code')} {i.get('location', '')} {i.get('issueMessage', '') or ''}"[:300], file=sys.stderr)
print(f"BIDS validator: {severity['error']} error(s), {severity['warning']} warning(s)")
sys.exit(1 if severity["error"] else 0)
EOF
}

# compare.py REFERENCE OUTPUT MODE: every file but logs/ byte-equal; MODE "local" allows, in files that
# differ, exactly the fields that must differ between the installed app and the image (the Python version
# in SoftwareVersions and in the reports, the participant reports' digest over those sidecars,
# GeneratedBy.Container and the source URL);
# MODE "container" allows only the GeneratedBy.Container record (a SIF mounted vs unpacked).
cat > "$tmp/compare.py" <<'EOF'
import json, re, sys
from pathlib import Path

reference, output, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def files(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "logs"}

def normalised(name, data):
    if name.endswith(".json"):
        value = json.loads(data)
        if name == "dataset_description.json":
            for entry in value.get("GeneratedBy", []):
                entry.pop("Container", None)
            if mode == "local":
                for source in value.get("SourceDatasets", []):
                    source.pop("URL", None)
        elif mode == "local" and isinstance(value, dict) and "SoftwareVersions" in value:
            value["SoftwareVersions"].pop("python", None)
        return json.dumps(value, sort_keys=True)
    if mode == "local" and name.endswith(".html"):  # the digest over the design sidecars; Software: python
        data = re.sub(rb'<meta name="fnirs-glm-sources" content="[0-9a-f]+">', b"", data)
        return re.sub(rb'<dt>python</dt>\s*<dd>[^<]*</dd>', b"", data)
    return data

a, b = files(reference), files(output)
problems = [f"only in {reference}: {n}" for n in sorted(a - b)] + [f"only in {output}: {n}" for n in sorted(b - a)]
identical, allowed = 0, []
for name in sorted(a & b):
    x, y = (reference / name).read_bytes(), (output / name).read_bytes()
    if x == y:
        identical += 1
    elif normalised(name, x) == normalised(name, y):
        allowed.append(name)
    else:
        problems.append(f"differs: {name}")
for p in problems[:20]:
    print("PROBLEM:", p, file=sys.stderr)
kinds = sorted({("Container and source URL" if mode == "local" else "Container") + " (dataset_description.json)"
                if n == "dataset_description.json" else
                "Python version and digest (reports)" if n.endswith(".html") else "Python version (sidecars)"
                for n in allowed})
print(f"{output.name} vs {reference.name}: {identical} files byte-identical"
      + (f", {len(allowed)} equal but for {', '.join(kinds)}" if allowed else "") + " (logs/ apart)")
sys.exit(1 if problems else 0)
EOF

check_container() {  # OUT EXPECTED_JSON: GeneratedBy.Container of OUT's dataset_description.json
    local got
    got=$(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["GeneratedBy"][0].get("Container"), sort_keys=True))' \
        "$1/dataset_description.json")
    [ "$got" = "$2" ] || fail "$1: GeneratedBy.Container is $got, expected $2"
    echo "GeneratedBy.Container: $got"
}

# ------------------------------------------------------------------------------------------- 4. as root
begin "as root: 2 concurrent participants, then the group level (--containall --cleanenv)"
run_levels root "$tmp/root-out" 0
check_input
python3 "$tmp/compare.py" "$tmp/local" "$tmp/root-out" local || fail "the Apptainer outputs differ from the installed app's"
check_container "$tmp/root-out" "{\"Tag\": \"fnirs-glm:$version\", \"Type\": \"apptainer\", \"URI\": \"file://$sif\"}"
validate "$tmp/root-out"
msg=$(apptainer exec --containall --cleanenv -B "$bids:/data:ro" "$sif" touch /data/x 2>&1) \
    && fail "a write into the read-only input bind succeeded"
[[ $msg == *"Read-only file system"* ]] || fail "a write into /data failed, but not as read-only: $msg"
echo "a write into /data fails: ${msg##*: }; input unchanged"
end

# ------------------------------------------------------------------------------------------ 5. non-root
begin "as uid $user (user namespace): 2 concurrent participants, then the group level with --no-home"
if in_root "$root" setpriv --reuid="$user" --regid="$user" --clear-groups unshare --user true >"$tmp/userns.log" 2>&1; then
    run_levels user "$tmp/user-out" "$user" --no-home
    check_input
    not_owned=$(find "$tmp/user-out" ! -uid "$user" | head -n 5)
    [ -z "$not_owned" ] || fail "output files not owned by uid $user: $not_owned"
    grep -q "Converting SIF file to temporary sandbox" "$tmp/user-sub-01.log" && echo "(the SIF unpacked to a temporary sandbox: no squashfuse)"
    python3 "$tmp/compare.py" "$tmp/root-out" "$tmp/user-out" container || fail "the non-root outputs differ from root's"
    check_container "$tmp/user-out" "{\"Tag\": \"fnirs-glm:$version\", \"Type\": \"apptainer\"}"
    validate "$tmp/user-out"
else
    show_log "unshare --user as uid $user" "$tmp/userns.log"
    echo "SKIPPED: this kernel refuses user namespaces to a non-root user, so apptainer cannot run as one (above)"
fi
end

# --------------------------------------------------------------------------------------------- 6. SLURM
if [ "${NO_SLURM:-0}" = 1 ]; then echo "NO_SLURM=1: SLURM skipped"; exit 0; fi
begin "start munged, slurmctld and slurmd (as .ci/slurm_test.sh, ports $ctld_port/$slurmd_port)"
start_slurm_node "$tmp/slurm" fnirsglmapptainer
end

begin "SLURM: SIF=fnirs-glm.sif scripts/slurm_submit.sh (apptainer in every job)"
unset FNIRS_GLM_CMD PARTICIPANTS MAX_PARALLEL CPUS_PER_TASK SBATCH_ARGS
export SLURM_LOG_DIR=$tmp/slurm-logs
out=$tmp/slurm-out
submitted=$(PATH="$tmp/bin:$PATH" SIF=$sif bash scripts/slurm_submit.sh "$bids" "$out") \
    || fail "slurm_submit.sh failed: $submitted"
echo "$submitted"
array_job=$(sed -n 's/^participant level: job \([0-9]*\),.*/\1/p' <<< "$submitted")
group_job=$(sed -n 's/^group level: job \([0-9]*\),.*/\1/p' <<< "$submitted")
[[ -n $array_job && -n $group_job ]] || fail "no job ids in: $submitted"
field() { sed -n "s|^\(.* \)\{0,1\}$1=\([^ ]*\).*|\2|p"; }
for _ in $(seq 1200); do
    queued=$(squeue -h -j "$array_job,$group_job" -t PD,R,CG,CF,S -o %i) && [ -z "$queued" ] && break
    sleep 0.5
done
[ -z "$queued" ] || fail "jobs $array_job, $group_job still queued after 10 minutes"
lines=$(scontrol -o show job "$array_job")
states=$(field JobState <<< "$lines" | sort | uniq -c | xargs)
group_state=$(scontrol -o show job "$group_job" | field JobState)
if [[ $states != "2 COMPLETED" || $group_state != COMPLETED ]]; then
    for log in "$SLURM_LOG_DIR"/*.out; do show_log "$log" "$log"; done
    fail "array job $array_job: $states; group job $group_job: $group_state (logs above)"
fi
last_end=$(field EndTime <<< "$lines" | sort | tail -n 1)
group_start=$(scontrol -o show job "$group_job" | field StartTime)
[ "$(date -d "$group_start" +%s)" -ge "$(date -d "$last_end" +%s)" ] \
    || fail "group job $group_job started at $group_start, before the last task ended ($last_end)"
for log in "$SLURM_LOG_DIR"/fnirs-glm-participant-"$array_job"_*.out "$SLURM_LOG_DIR/fnirs-glm-group-$group_job.out"; do
    grep -q "slurm_participants.sh: $tmp/bin/apptainer run --containall --cleanenv -B $bids:/data:ro -B $out:/out $sif /data /out" "$log" \
        || { show_log "$log" "$log"; fail "$log: the job did not run the image with apptainer"; }
done
echo "array job $array_job: 2 tasks COMPLETED; group job $group_job COMPLETED, started $group_start >= $last_end"
check_input
python3 "$tmp/compare.py" "$tmp/root-out" "$out" container || fail "the SLURM outputs differ from the Apptainer run's"
cmp -s "$tmp/root-out/dataset_description.json" "$out/dataset_description.json" \
    || fail "dataset_description.json of the SLURM run differs from the Apptainer run's"
python3 "$tmp/compare.py" "$tmp/local" "$out" local >/dev/null || fail "the SLURM outputs differ from the installed app's"
validate "$out"
end
