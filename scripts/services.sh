#!/usr/bin/env bash
# Installs and starts the services the sandbox tests need (root, Debian): bubblewrap and a docker
# engine. Idempotent: does nothing that is already done. Used by .ci/run; run it yourself before
# the full test suite on a fresh machine (without it the bwrap/docker tests are skipped).
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
    (setsid dockerd >/tmp/dockerd.log 2>&1 &)
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/dockerd.log" >&2; exit 1; }
fi
echo "services ready: $(bwrap --version), docker $(docker version --format '{{.Server.Version}}')"
