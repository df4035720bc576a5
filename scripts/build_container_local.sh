#!/usr/bin/env bash
# Build (and smoke-test) the fnirs-glm image with podman on a machine without container-registry access
# and where pip cannot reach PyPI from inside a build:
#   1. a local base image localhost/debian-base:bookworm made with debootstrap (Debian 12: Python 3.11),
#      unless it already exists;
#   2. the wheels of requirements.txt (+ setuptools, for building the app) made on the host with pip into a
#      temporary directory outside the repository, mounted read-only into the build (never copied into the
#      build context or the image) and removed at the end;
#   3. podman build --isolation chroot with pip restricted to those wheels (--no-index);
#   4. checks: --version, and a participant run on tests/data/grptap mounted read-only, with a read-only
#      root file system, as an arbitrary user id, without network.
#
# Needs root, and: apt-get install -y podman buildah runc debootstrap
# The host Python ($PYTHON, default python3) must be 3.11 on x86_64 Linux so the wheels match the image.
# Usage: scripts/build_container_local.sh [IMAGE_NAME]     (default localhost/fnirs-glm:$(cat version))
# Environment: PYTHON, BASE_IMAGE (default localhost/debian-base:bookworm), DEBIAN_MIRROR, KEEP_TMP=1,
# SKIP_CHECKS=1 (build only, without step 4: for callers that run their own checks, e.g. .ci/container_test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(cat version)
image=${1:-localhost/fnirs-glm:$version}
base=${BASE_IMAGE:-localhost/debian-base:bookworm}
python=${PYTHON:-python3}

for tool in podman buildah runc debootstrap; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y podman buildah runc debootstrap" >&2; exit 1; }
done
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$pyver" = 3.11 ] || { echo "$python is Python $pyver; the image has 3.11: set PYTHON to a python3.11" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fnirs-glm-build.XXXXXX")
cleanup() { if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

# podman run here needs runc and explicit ulimits: scripts/containers.conf (unless CONTAINERS_CONF is set).
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}

if ! podman image exists "$base"; then
    echo "== debootstrap $base (about 1 minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$tmp/rootfs" ${DEBIAN_MIRROR:-} > "$tmp/debootstrap.log"
    tar -C "$tmp/rootfs" -c . | podman import - "$base"
    rm -rf "$tmp/rootfs"
fi

echo "== wheels of requirements.txt for Python $pyver"
mkdir "$tmp/wheels"
"$python" -m pip wheel --quiet --wheel-dir "$tmp/wheels" -r requirements.txt setuptools

echo "== podman build $image"
# (--network none is refused with --isolation chroot; --no-index keeps pip off the network anyway.)
podman build --isolation chroot \
    --build-arg BASE_IMAGE="$base" \
    --build-arg VERSION="$version" \
    --build-arg PIP_OPTIONS="--no-index --find-links /wheels" \
    -v "$tmp/wheels:/wheels:ro" \
    -t "$image" .

if [ "${SKIP_CHECKS:-0}" = 1 ]; then
    podman images "$image"
    echo "== built $image (checks skipped: SKIP_CHECKS=1)"
    exit 0
fi

echo "== checks"
podman run --rm --network none "$image" --version
mkdir "$tmp/out" && chmod 777 "$tmp/out"
podman run --rm --network none --read-only --tmpfs /tmp --user 12345:12345 \
    -v "$PWD/tests/data/grptap:/data:ro" -v "$tmp/out:/out" \
    "$image" /data /out participant --participant_label 01
test -s "$tmp/out/dataset_description.json"
ls "$tmp"/out/sub-01/ses-*/nirs/*_desc-channel_stats.tsv
podman images "$image"
echo "== built and checked $image"
