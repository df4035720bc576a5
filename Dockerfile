# fnirs-glm BIDS App container.
#
#   docker build -t fnirs-glm:$(cat version) .
#   docker run --rm -v /path/to/bids:/data:ro -v /path/to/out:/out fnirs-glm:$(cat version) \
#       /data /out participant --participant_label 01
#
# Build arguments:
#   BASE_IMAGE   any Debian/Ubuntu-like image with Python 3.11 and the venv module
#                (default: the official python:3.11-slim-bookworm).
#   VERSION      the app version for the image label and GeneratedBy.Container; it must equal the
#                top-level `version` file (the build stops otherwise), so update it here when bumping
#                `version`, or pass --build-arg VERSION=$(cat version).
#   PIP_OPTIONS  extra options for every pip install (default: none, i.e. PyPI). Offline builds mount a
#                directory of wheels (requirements.txt's pins plus setuptools) read-only into the build
#                and install only from it, so no wheel ever enters the build context or an image layer:
#                  podman build -v "$WHEELS:/wheels:ro" \
#                      --build-arg PIP_OPTIONS="--no-index --find-links /wheels" ...
#                (--no-index keeps pip off the network; podman refuses --network none with
#                --isolation chroot.) Docker has no build-time -v; there, build with network access.
#                scripts/build_container_local.sh does exactly that from a debootstrapped local base.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG PIP_OPTIONS=""

# A virtual environment: isolated from the distribution's Python (Debian's is "externally managed"),
# and it provides `python` on the PATH whatever the base image.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN python3 -m venv /opt/venv

# The exact pins first (a layer that changes only with requirements.txt).
COPY requirements.txt /tmp/requirements.txt
# The libraries' own test suites (tests/ and test/ package directories, about 170 MB) are removed: the
# analysis imports none of them (checked by running every level and the simulator in one process).
RUN pip install --no-cache-dir $PIP_OPTIONS -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && find /opt/venv/lib/python3*/site-packages -type d \( -name tests -o -name test \) -prune \
        -exec rm -rf {} +

# VERSION is declared only here, after the dependencies, so that a version bump does not reinstall them.
ARG VERSION=0.1.0

# The app: run.py is the entry point (BIDS-Apps convention); the package is also installed, which gives
# the `fnirs-glm` console script and the package metadata.
# (chmod below: readable by any user id even from a checkout made with a strict umask; pip already installs
# /opt/venv world-readable, and a chmod there would copy the whole venv into another layer.)
COPY version pyproject.toml README.md run.py /app/
COPY bids_app /app/bids_app
COPY models /app/models
RUN test "$VERSION" = "$(cat /app/version)" \
        || { echo "Dockerfile ARG VERSION=$VERSION differs from the version file ($(cat /app/version))." \
                  "Update the ARG default or build with --build-arg VERSION=\$(cat version)." >&2; exit 1; } \
    && cp -r /app /tmp/app-src \
    && pip install --no-cache-dir --no-deps $PIP_OPTIONS /tmp/app-src \
    && rm -rf /tmp/app-src \
    && python -m compileall -q /app \
    && chmod -R a+rX /app

LABEL org.opencontainers.image.title="fnirs-glm" \
      org.opencontainers.image.description="BIDS App for first- and group-level GLM analysis of fNIRS (SNIRF) data" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="BSD-3-Clause"

# Runs with a read-only root file system and as any user id: every config dir and cache goes to /tmp
# (mount a tmpfs there with --read-only).
ENV FNIRS_GLM_CONTAINER=fnirs-glm:${VERSION} \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    MPLCONFIGDIR=/tmp/matplotlib \
    MPLBACKEND=Agg \
    MNE_HOME=/tmp/mne \
    DENO_DIR=/tmp/deno
WORKDIR /tmp

ENTRYPOINT ["python", "/app/run.py"]
