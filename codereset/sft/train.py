"""The warm-start loop: build the tokenizer, model and data, train until the greedy val pass
rate enters the target band (or the budget ends), and save a checkpoint `load_model` reads.

One step = one batch of solution examples + one batch of localization examples (fresh
corruptions each step), loss = mean token cross-entropy on the solution thoughts +
`localize_weight` x that on the localization answers. Evaluation every `eval_every` steps:
greedy pass@1 on the val split through the trainer's own rollout and verifier code
(`codereset.eval.eval_tasks.evaluate_tasks`, so the number is what the trainer's validation
reports for these settings), and greedy localization accuracy on held-out corrupted val
rollouts (exact step, parsed with `codereset.rollouts.localize.parse_step`).

The checkpoint directory holds `save_pretrained` weights and tokenizer plus `sft_summary.json`
(config, evaluations, the step it stopped at and why); it is written to a temporary sibling and
renamed into place, so a killed warm-start never leaves a half-written checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from codereset.sft.config import SFTConfig
from codereset.sft import data as sd
from envs.rules import ThoughtRules

SUMMARY = "sft_summary.json"


def rules_of(cfg: SFTConfig) -> ThoughtRules:
    return ThoughtRules(max_thoughts=cfg.max_thoughts, max_thought_tokens=cfg.max_thought_tokens)


def load_problems(cfg: SFTConfig) -> tuple[list, list]:
    """(warm-start problems, val problems): data seeds minus the RL run's own train problems."""
    from envs.tasks import load_suite

    rl_train = {t.problem for t in load_suite(cfg.suite, "train", seed=cfg.suite_seed)}
    train, seen = [], set(rl_train)
    for s in cfg.data_seeds:
        for t in load_suite(cfg.suite, "train", seed=s, n=cfg.n_tasks_per_seed):
            if t.problem not in seen:
                seen.add(t.problem)
                train.append(t)
    val = load_suite(cfg.suite, "val", seed=cfg.suite_seed)[: cfg.val_tasks]
    return train, val


def corrupted(tasks: Sequence[Any], n: int, rng: random.Random, rules: ThoughtRules) -> list[tuple]:
    """`n` (task, failed thoughts, oracle step) triples drawn from `tasks`."""
    out = []
    for _ in range(100 * max(n, 1)):
        if len(out) >= n:
            break
        task = rng.choice(tasks)
        made = sd.corrupt(task, rng, rules)
        if made is not None:
            out.append((task, *made))
    return out


def build_tokenizer(cfg: SFTConfig, tasks: Sequence[Any], rules: ThoughtRules):
    """The BPE tokenizer fit on prompts, solutions and localization prompts of `tasks`."""
    from codereset.models.bytes_tokenizer import byte_tokenizer

    render_tok = byte_tokenizer()  # any tokenizer with the ChatML template renders the same text
    rng = random.Random(f"tokenizer:{cfg.seed}")
    sample = rng.sample(list(tasks), min(len(tasks), 3000))
    from envs.prompts import render_prompt

    texts = [render_prompt(t, tokenizer=render_tok, fewshot=cfg.fewshot, rules=rules)
             + "".join(rules.adopt(t.reference))
             for t in sample]
    for task, thoughts, step in corrupted(sample, 1000, rng, rules):
        texts.append(sd.localization_text(task, thoughts, render_tok, cfg.localize_variant,
                                          cfg.localize_worked_example, rules) + f"\\boxed{{{step}}}")
    return sd.train_tokenizer(texts, cfg.vocab_size)


def build_model(cfg: SFTConfig, tokenizer: Any):
    """A random-init Llama of `cfg.shape` over the tokenizer's vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    s = cfg.shape
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=s.hidden_size, intermediate_size=s.intermediate_size,
        num_hidden_layers=s.num_layers, num_attention_heads=s.num_heads,
        num_key_value_heads=s.num_kv_heads, max_position_embeddings=s.max_position_embeddings,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def batch_loss(model: Any, examples: Sequence[sd.Example], pad_id: int) -> torch.Tensor:
    """Mean cross-entropy of the target tokens of `examples` (right-padded into one batch)."""
    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)   # (B, T)
    attention = torch.zeros_like(ids)
    target = torch.zeros_like(ids, dtype=torch.bool)                      # token t is a target
    for b, e in enumerate(examples):
        ids[b, : len(e.ids)] = torch.tensor(e.ids)
        attention[b, : len(e.ids)] = 1
        target[b, e.target_from : len(e.ids)] = True
    logits = model(input_ids=ids, attention_mask=attention).logits       # (B, T, V)
    predict = target[:, 1:]                                                # (B, T-1)
    return torch.nn.functional.cross_entropy(logits[:, :-1][predict], ids[:, 1:][predict])


def pass_rate(model: Any, tokenizer: Any, tasks: Sequence[Any], cfg: SFTConfig) -> float:
    """Greedy pass@1 on `tasks` with the trainer's rollout, verifier and evaluation code."""
    from codereset.eval.eval_tasks import evaluate_tasks
    from codereset.generation import make_backend
    from codereset.rollouts.rollout import Roller
    from envs.verify import Verifier

    rules = rules_of(cfg)
    roller = Roller(make_backend("hf", model, tokenizer), rules, temperature=0.0, top_p=1.0,
                    fewshot=cfg.fewshot)
    with Verifier(sandbox="auto", rules=rules) as verifier:
        return float(evaluate_tasks(roller, verifier, tasks, 1, [1])["pass_at_k"]["1"])


def localization_accuracy(model: Any, tokenizer: Any, cases: Sequence[tuple], cfg: SFTConfig) -> float | None:
    """Share of `cases` (task, thoughts, oracle step) whose greedy answer names the oracle step."""
    from codereset.generation import Sampling, make_backend
    from codereset.rollouts.localize import encode_chat, parse_step

    if not cases:
        return None
    rules = rules_of(cfg)
    prompts = [encode_chat(tokenizer, sd.localization_text(t, th, tokenizer, cfg.localize_variant,
                                                           cfg.localize_worked_example, rules))
               for t, th, _ in cases]
    outs = make_backend("hf", model, tokenizer).generate(prompts, 1, Sampling(temperature=0.0, max_new_tokens=12))
    hits = sum(parse_step(o[0].text)[0] == step for o, (_, _, step) in zip(outs, cases))
    return hits / len(cases)


def save(model: Any, tokenizer: Any, out: Path, summary: dict) -> Path:
    """Write weights, tokenizer and summary into `out` atomically (temp dir + rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# lr multiplier after warm-up: (step, max_steps) -> factor; `SFTConfig.lr_schedule` names one.
SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "constant": lambda step, total: 1.0,
    "linear": lambda step, total: max(0.0, 1.0 - step / total),
    "cosine": lambda step, total: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)),
}


def lr_factor(cfg: SFTConfig) -> Callable[[int], float]:
    """LambdaLR factor: linear warm-up, then the named schedule over `max_steps`."""
    if cfg.lr_schedule not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {cfg.lr_schedule!r}; known: {sorted(SCHEDULES)}")
    decay = SCHEDULES[cfg.lr_schedule]
    return lambda s: min(1.0, (s + 1) / max(cfg.warmup_steps, 1)) * decay(s, cfg.max_steps)


def start_model(cfg: SFTConfig, train_tasks: Sequence[Any], rules: ThoughtRules, log: Callable) -> tuple:
    """(model, tokenizer): continued from `cfg.init`, or a new tokenizer and random model."""
    if cfg.init:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log(f"[sft] continuing from {cfg.init}")
        return (AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32),
                AutoTokenizer.from_pretrained(cfg.init))
    tokenizer = build_tokenizer(cfg, train_tasks, rules)
    return build_model(cfg, tokenizer), tokenizer


def run(cfg: SFTConfig, log: Callable[[str], None] = print) -> dict:
    """Train per `cfg`, save the checkpoint to `cfg.out` after every evaluation (so a killed
    warm-start keeps its last evaluated state), return the final summary."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    rules = rules_of(cfg)
    train_tasks, val_tasks = load_problems(cfg)
    model, tokenizer = start_model(cfg, train_tasks, rules, log)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"[sft] {len(train_tasks)} problems, vocab {len(tokenizer)}, {n_params / 1e6:.2f}M parameters")
    rng = random.Random(f"sft:{cfg.seed}")
    loc_val = corrupted(val_tasks, cfg.localize_eval, random.Random(f"loc-eval:{cfg.seed}"), rules)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg))
    order: list[int] = []
    evals: list[dict] = []
    summary: dict = {}
    for step in range(1, cfg.max_steps + 1):
        model.train()
        if len(order) < cfg.batch_size:
            order += rng.sample(range(len(train_tasks)), len(train_tasks))
        batch = [sd.solution_example(train_tasks[order.pop()], tokenizer, cfg.fewshot, rules)
                 for _ in range(cfg.batch_size)]
        solve_loss = batch_loss(model, batch, tokenizer.pad_token_id)
        loss, loc_loss = solve_loss, None
        if cfg.localize_batch_size:
            loc_batch = [sd.localization_example(t, th, k, tokenizer, cfg.localize_variant,
                                                 cfg.localize_worked_example, rules)
                         for t, th, k in corrupted(train_tasks, cfg.localize_batch_size, rng, rules)]
            loc_loss = batch_loss(model, loc_batch, tokenizer.pad_token_id)
            loss = loss + cfg.localize_weight * loc_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        minutes = (time.perf_counter() - started) / 60
        out_of_time = minutes >= cfg.max_minutes
        if step % cfg.eval_every and step != cfg.max_steps and not out_of_time:
            continue
        model.eval()
        row = {"step": step, "minutes": round(minutes, 2), "lr": sched.get_last_lr()[0],
               "loss": round(solve_loss.item(), 4),
               "localize_loss": None if loc_loss is None else round(loc_loss.item(), 4),
               "val_pass_rate": pass_rate(model, tokenizer, val_tasks, cfg),
               "localization_accuracy": localization_accuracy(model, tokenizer, loc_val, cfg)}
        evals.append(row)
        log(f"[sft] step {step}: loss {row['loss']:.3f} (localize {row['localize_loss']}), "
            f"val pass {row['val_pass_rate']:.3f}, localization acc {row['localization_accuracy']}, "
            f"{row['minutes']:.1f} min")
        reached = row["val_pass_rate"] >= cfg.target_low
        reason = "target" if reached else ("max_minutes" if out_of_time else
                                           ("max_steps" if step == cfg.max_steps else "running"))
        summary = make_summary(cfg, model, tokenizer, len(train_tasks), step, reason, evals, started)
        save(model, tokenizer, Path(cfg.out), summary)
        if reason != "running":
            break
    log(f"[sft] saved {cfg.out}: stopped on {summary['stop_reason']} at step {summary['steps']}, val pass "
        f"{summary['val_pass_rate']}, in target band {summary['in_target_band']}")
    return summary


def localize_prompt(cfg: SFTConfig) -> dict:
    """The localization prompt this warm-start teaches, in `agent.localize`'s terms: an SRPO run
    on the checkpoint must ask with exactly these settings."""
    return {"variant": cfg.localize_variant, "worked_example": cfg.localize_worked_example,
            "answer_prefix": sd.LOCALIZE_ANSWER_PREFIX}


def make_summary(cfg: SFTConfig, model: Any, tokenizer: Any, n_problems: int, step: int, reason: str,
                 evals: list[dict], started: float) -> dict:
    """sft_summary.json: config, size, the evaluations so far, where and why it stopped."""
    rate = evals[-1]["val_pass_rate"]
    minutes = round((time.perf_counter() - started) / 60, 2)
    before = _previous(cfg.init)
    earlier = before.get("earlier_phases", []) + ([
        {k: before[k] for k in ("config", "steps", "minutes", "evaluations") if k in before}] if before else [])
    return {
        "config": dataclasses.asdict(cfg), "localize_prompt": localize_prompt(cfg),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer), "problems": n_problems, "steps": step, "stop_reason": reason,
        "val_pass_rate": rate, "localization_accuracy": evals[-1]["localization_accuracy"],
        "in_target_band": cfg.target_low <= rate <= cfg.target_high, "minutes": minutes,
        "evaluations": evals,
        "total_steps": before.get("total_steps", before.get("steps", 0)) + step,
        "total_minutes": round(before.get("total_minutes", before.get("minutes", 0)) + minutes, 2),
        "earlier_phases": earlier,
    }


def _previous(init: str | None) -> dict:
    """The summary of the checkpoint this warm-start continues (empty when from scratch)."""
    path = Path(init) / SUMMARY if init else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}
