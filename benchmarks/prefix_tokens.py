"""Forward tokens per trained token of the update, plain vs shared-prefix forward, on buffers shaped
like the main job's: the real code_basic prompts (few-shot, SmolLM2 tokenizer), 4 base + 4 reset
rollouts per prompt, synthetic suffix and reset-prefix lengths (seed 0). Token counting only
(`codereset.learn.prefix_forward.prefix_tree`), no model run: `python benchmarks/prefix_tokens.py`.
It writes no files. `--smoke`: one suffix length and one buffer size (seconds).
The measured figure on real buffers is benchmarks/step_throughput.py's."""
import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, when not pip-installed
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    outdir.add_arguments(ap, "prefix_tokens", out=False)
    args = ap.parse_args(argv)
    suffix_means, prompt_counts = ((60,), (2,)) if args.smoke else ((60, 84, 120), (2, 8))

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from codereset.learn.prefix_forward import prefix_tree
    from codereset.models.config import ModelConfig
    from codereset.models.load import load_tokenizer
    from codereset.rollouts.rollout import encode_prompt
    from codereset.run.builders import load_tasks, make_rules
    from codereset.train import register

    register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = OmegaConf.to_object(compose(config_name="train", overrides=["+agent=srpo"]))
    tok = load_tokenizer(ModelConfig(name=cfg.model.name))
    rules = make_rules(cfg.env)
    tasks = load_tasks(cfg.env, "train")
    rng = random.Random(0)

    def thoughts(n: int) -> list[int]:
        return [rng.randrange(1000, 40000) for _ in range(n)]

    for suffix_mean in suffix_means:
        for prompts in prompt_counts:
            seqs, tf = [], []
            for task in rng.sample(tasks, prompts):
                p = encode_prompt(task, tok, cfg.env.fewshot, rules)
                for _ in range(4):  # base group
                    s = thoughts(rng.randint(suffix_mean // 2, suffix_mean * 3 // 2))
                    seqs.append(p + s)
                    tf.append(len(p))
                prefix = thoughts(rng.randint(20, 90))  # the seed's first h*-1 thoughts
                for _ in range(4):  # reset group
                    s = thoughts(rng.randint(suffix_mean // 2, suffix_mean * 3 // 2))
                    seqs.append(p + prefix + s)
                    tf.append(len(p) + len(prefix))
            trained = sum(len(s) - t for s, t in zip(seqs, tf))
            plain = sum(len(s) for s in seqs)
            root, ends = prefix_tree([s[: t - 1] for s, t in zip(seqs, tf)])
            stack, nodes = [root], 0
            while stack:
                n = stack.pop()
                nodes += len(n.span)
                stack.extend(n.children.values())
            shared = nodes + trained
            print(f"prompt {len(p)} tok, suffix ~{suffix_mean}, {prompts} prompts: plain {plain/trained:.2f}, "
                  f"shared {shared/trained:.2f} forward tokens per trained token -> {plain/shared:.2f}x fewer")


if __name__ == "__main__":
    main()
