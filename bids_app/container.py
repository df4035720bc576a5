"""The container the app runs in, for ``GeneratedBy.Container`` of dataset_description.json."""

from __future__ import annotations

import os
from pathlib import Path

# Files the runtimes create in every container (Docker; Podman and other libpod/CRI-O engines).
DOCKER_MARKER = Path("/.dockerenv")
PODMAN_MARKER = Path("/run/.containerenv")


def container_description() -> dict | None:
    """``{"Type": runtime, "Tag": image[, "URI": file URI of the image]}`` when the app runs from its image,
    else None.

    The image: an Apptainer/Singularity image (APPTAINER_CONTAINER and APPTAINER_NAME, or SINGULARITY_*,
    which those runtimes set, with --cleanenv too), tagged with the Docker image it was built from
    (FNIRS_GLM_CONTAINER, set in our Dockerfile) when known, else by its file name; its URI is the image file
    the container runs from, except when the runtime unpacked the image into a temporary sandbox (Apptainer
    as a non-root user without squashfuse: APPTAINER_CONTAINER is then that sandbox, not named
    APPTAINER_NAME, and says nothing about the image). Or our Docker image itself (FNIRS_GLM_CONTAINER), run
    by Podman (/run/.containerenv, or container=podman), Docker (/.dockerenv) or the runtime named in
    ``container``. The app installed in some other container records none: its image is unknown.
    """
    environ = os.environ
    image = environ.get("FNIRS_GLM_CONTAINER") or None
    for prefix, runtime in (("APPTAINER", "apptainer"), ("SINGULARITY", "singularity")):
        path = environ.get(f"{prefix}_CONTAINER")
        if path:
            name = environ.get(f"{prefix}_NAME") or Path(path).name
            described = {"Type": runtime, "Tag": image or name}
            if Path(path).is_absolute() and Path(path).name == name:
                described["URI"] = Path(path).as_uri()
            return described
    if image is None:
        return None
    runtime = environ.get("container") or None
    if PODMAN_MARKER.exists() or runtime == "podman":
        runtime = "podman"
    elif DOCKER_MARKER.exists():
        runtime = "docker"
    return {"Type": runtime, "Tag": image} if runtime else {"Tag": image}
