"""Forward tokens per trained token of the update, plain vs shared-prefix forward, on buffers shaped
like the main job's: the real code_basic prompts (few-shot, SmolLM2 tokenizer), 4 base + 4 reset
rollouts per prompt, synthetic suffix and reset-prefix lengths (seed 0). Token counting only
(`codereset.learn.prefix_forward.prefix_tree`), no model run: `python benchmarks/prefix_tokens.py`.
The measured figure on real buffers is benchmarks/step_throughput.py's."""
import random
from pathlib import Path
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from codereset.train import register
from codereset.run.builders import load_tasks, make_rules
from codereset.rollouts.rollout import encode_prompt
from codereset.models.config import ModelConfig
from codereset.models.load import load_tokenizer
from codereset.learn.prefix_forward import prefix_tree
ROOT = Path(__file__).resolve().parents[1]
register()
with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
    cfg = OmegaConf.to_object(compose(config_name="train", overrides=["+agent=srpo"]))
tok = load_tokenizer(ModelConfig(name=cfg.model.name))
rules = make_rules(cfg.env)
tasks = load_tasks(cfg.env, "train")
rng = random.Random(0)
for suffix_mean in (60, 84, 120):
    for prompts in (2, 8):
        seqs, tf = [], []
        for task in rng.sample(tasks, prompts):
            p = encode_prompt(task, tok, cfg.env.fewshot, rules)
            thoughts = lambda n: [rng.randrange(1000, 40000) for _ in range(n)]
            for _ in range(4):  # base group
                s = thoughts(rng.randint(suffix_mean // 2, suffix_mean * 3 // 2)); seqs.append(p + s); tf.append(len(p))
            prefix = thoughts(rng.randint(20, 90))  # the seed's first h*-1 thoughts
            for _ in range(4):  # reset group
                s = thoughts(rng.randint(suffix_mean // 2, suffix_mean * 3 // 2)); seqs.append(p + prefix + s); tf.append(len(p) + len(prefix))
        trained = sum(len(s) - t for s, t in zip(seqs, tf))
        plain = sum(len(s) for s in seqs)
        root, ends = prefix_tree([s[: t - 1] for s, t in zip(seqs, tf)])
        stack, nodes = [root], 0
        while stack:
            n = stack.pop(); nodes += len(n.span); stack.extend(n.children.values())
        shared = nodes + trained
        print(f"prompt {len(p)} tok, suffix ~{suffix_mean}, {prompts} prompts: plain {plain/trained:.2f}, shared {shared/trained:.2f} forward tokens per trained token -> {plain/shared:.2f}x fewer")
