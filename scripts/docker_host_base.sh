#!/usr/bin/env bash
# Offline base image for the root Dockerfile: this machine's Python with the project's dependencies
# (only those: scripts/docker_host_files.py picks them from pyproject.toml) and the system it links
# against, imported with `docker import` (no registry needed). Then:
#   docker build --build-arg BASE=codereset-host-python --build-arg DEPS=host -t codereset .
# PYTHON: the interpreter to take (default python3); TAG: the image's tag.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TAG=${TAG:-codereset-host-python}
# The real interpreter's directory (not a pyenv shim's) goes first on the image's PATH.
BIN_DIR=$("$PY" -c 'import os, sys; print(os.path.dirname(sys.executable))')
LIST=$(mktemp)
trap 'rm -f "$LIST"' EXIT
"$PY" scripts/docker_host_files.py >"$LIST"
echo "importing $TAG: $(tr -cd '\0' <"$LIST" | wc -c) paths, Python $("$PY" -c 'import sys; print(sys.prefix)')"
tar -C / --null --no-recursion -T "$LIST" -cf - \
  | docker import --change "ENV PATH=$BIN_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "WORKDIR /" - "$TAG"
docker image inspect -f "imported $TAG: {{.Size}} bytes" "$TAG"
