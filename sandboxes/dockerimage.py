"""The docker backend's offline image: an empty imported image, the host's Python mounted in.

No registry is reachable on our machines, so ``ensure_offline_image`` imports the image through
the engine's API (the Docker SDK's ``import_image_from_data``) from a tar made here: just the mount points and the host's /lib-style symlinks.
The interpreter, its standard library and the shared libraries come in read-only at run time
(``host_layout()``), and so does the runner package. On a machine that can pull, build
``sandboxes/Dockerfile`` instead and pass its tag as ``image``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from .layout import RUNNER_MOUNT

IMAGE_REPO = "codereset-sandbox"
IMAGE_VERSION = 1  # bump when the tar's content changes


def _tar(symlinks: list[list[str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(path: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        for d in ("dev", "proc", "sys", "etc", "run", "run/codereset", "opt", "opt/codereset",
                  RUNNER_MOUNT.strip("/"), "usr"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        for target, path in symlinks:
            info = tarfile.TarInfo(path.strip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def offline_tag(layout: dict) -> str:
    key = json.dumps([IMAGE_VERSION, layout["symlinks"]], sort_keys=True).encode()
    return f"{IMAGE_REPO}:offline-{hashlib.sha1(key).hexdigest()[:12]}"


def ensure_offline_image(client, layout: dict) -> str:
    """The offline image's tag, importing it first if this engine lacks it (``client``: a
    ``docker.DockerClient``)."""
    import docker

    tag = offline_tag(layout)
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    repository, version = tag.split(":")
    try:
        client.api.import_image_from_data(_tar(layout["symlinks"]), repository=repository,
                                          tag=version)
        client.images.get(tag)
    except docker.errors.DockerException as e:
        raise RuntimeError(f"importing the offline sandbox image {tag} failed: {e}"[:400]) \
            from None
    return tag
