"""The docker backend's offline image: an empty imported image, the host's Python mounted in.

No registry is reachable on our machines, so ``ensure_offline_image`` builds the image with
``docker import`` from a tar made here: just the mount points and the host's /lib-style symlinks.
The interpreter, its standard library and the shared libraries come in read-only at run time
(``host_layout()``), and so does the runner package. On a machine that can pull, build
``sandboxes/Dockerfile`` instead and pass its tag as ``image``.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
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


def ensure_offline_image(docker: str, layout: dict) -> str:
    """The offline image's tag, importing it first if this docker engine lacks it."""
    tag = offline_tag(layout)
    have = subprocess.run([docker, "image", "inspect", tag], capture_output=True)
    if have.returncode == 0:
        return tag
    done = subprocess.run([docker, "import", "-", tag], input=_tar(layout["symlinks"]),
                          capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"docker import of the offline sandbox image failed: "
                           f"{done.stderr.decode(errors='replace')[:300]}")
    return tag
