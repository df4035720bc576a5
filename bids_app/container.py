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

    The image: an Apptainer/Singularity image file (APPTAINER_CONTAINER or SINGULARITY_CONTAINER, which
    those runtimes set), tagged with the Docker image it was built from (FNIRS_GLM_CONTAINER, set in our
    Dockerfile) when known; or our Docker image itself (FNIRS_GLM_CONTAINER), run by Podman
    (/run/.containerenv, or container=podman), Docker (/.dockerenv) or the runtime named in ``container``.
    The app installed in some other container records none: its image is unknown.
    """
    environ = os.environ
    image = environ.get("FNIRS_GLM_CONTAINER") or None
    for variable, runtime in (("APPTAINER_CONTAINER", "apptainer"), ("SINGULARITY_CONTAINER", "singularity")):
        path = environ.get(variable)
        if path:
            described = {"Type": runtime, "Tag": image or Path(path).name}
            if Path(path).is_absolute():
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
