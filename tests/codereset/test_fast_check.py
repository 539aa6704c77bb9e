"""The README's fast check trains for real (issue 25 item 12): the shipped warm-started model
`chain-tiny` (codereset/models/chain_tiny/) solves ~40% of `chain` problems from the start, so a
2-step SRPO run has rewards that vary within a group, a non-zero loss and gradient, and rollouts
that reach the backward pass. (The random `model=tiny` scores 0 everywhere: nothing to learn.)
The subprocess runs the README's command as written (~20 s on one busy CPU core)."""

import fnmatch
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
FAST_CHECK = ["+experiment=chain_tiny", "+agent=srpo", "model.name=chain-tiny", "trainer.steps=2"]


def test_chain_tiny_is_a_named_model_shipped_as_package_data():
    from codereset.models.load import NAMED_MODELS, SHIPPED_MODELS, model_dir

    folder = SHIPPED_MODELS["chain-tiny"]
    assert "chain-tiny" in NAMED_MODELS and model_dir("chain-tiny") == folder
    assert folder.parent == ROOT / "codereset" / "models"
    files = sorted(p.name for p in folder.iterdir())
    assert {"model.safetensors", "tokenizer.json", "config.json", "sft_summary.json", "README.md"} <= set(files)
    assert sum(p.stat().st_size for p in folder.iterdir()) < 5_000_000
    # every file matches a package-data glob, so the wheel carries it (test_install builds one)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = data.get("*", []) + data.get("codereset.models", [])
    assert all(any(fnmatch.fnmatch(f"chain_tiny/{name}", g) or fnmatch.fnmatch(name, g) for g in globs)
               for name in files), (files, globs)
    # the README names the command that made it (benchmarks/agent_comparison.py, preset "chain")
    readme = (folder / "README.md").read_text()
    assert "python -m codereset.sft --suite chain" in readme and "--init outputs/sft/chain_tiny_a" in readme


def test_preflight_reads_the_shipped_models_localization_prompt():
    from codereset.run.preflight import warm_start_prompt

    taught = warm_start_prompt("chain-tiny")
    preset = OmegaConf.load(ROOT / "conf" / "localize_prompt" / "sft_tiny.yaml")
    assert taught is not None and all(preset[k] == v for k, v in taught.items()), taught


def test_chain_tiny_loads_with_its_own_tokenizer():
    from codereset.models.config import ModelConfig
    from codereset.models.load import load_model

    model, tok = load_model(ModelConfig(name="chain-tiny", device="cpu"))
    assert 0.8e6 < sum(p.numel() for p in model.parameters()) < 1e6
    assert len(tok) == model.config.vocab_size == 692


def test_the_readme_fast_check_backpropagates_a_non_zero_gradient(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "codereset.train", *FAST_CHECK, f"trainer.output_dir={run}",
                           "trainer.progress=false"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "grad_norm" in r]
    assert len(train) == 2, rows
    assert all(r["rollouts_backprop"] > 0 for r in train), train
    assert any(r["grad_norm"] > 0 and r["loss"] != 0 for r in train), train
    assert 0 < max(r["pass_rate"] for r in train) < 1, train
