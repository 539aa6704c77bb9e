"""`SFTConfig`: every setting of the supervised warm-start (`python -m codereset.sft`), documented.

The prompt settings (`fewshot`, `max_thoughts`, `max_thought_tokens`, `localize_variant`,
`localize_worked_example`) must equal the RL run's (`env.*`, `agent.localize.*`): the warm-start
teaches exactly the text the trainer will show. `conf/experiment/arith_tiny.yaml` uses the defaults
below; the checkpoint records them in `sft_summary.json`. The defaults are the recipe of the
committed comparison as one run (from scratch, cosine schedule over 2700 steps); that checkpoint
was itself made in phases (`init`), listed in benchmarks/results/tiny_lm_comparison/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelShape:
    """The tiny Llama built from a `transformers` config (random init, trained from scratch).

    hidden_size: model width. num_layers: transformer blocks. num_heads: attention heads.
    num_kv_heads: key/value heads (grouped-query attention). intermediate_size: MLP width.
    max_position_embeddings: longest sequence (prompts here stay below ~400 tokens).
    """

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 384
    max_position_embeddings: int = 1024


@dataclass
class SFTConfig:
    """The warm-start: data, model, optimisation, stopping rule and where the checkpoint goes.

    out: checkpoint directory (loads with `model.name=<out>`); written atomically at the end.
    init: continue from this warm-start checkpoint (its weights and tokenizer; `shape` and
        `vocab_size` are then ignored) instead of a fresh random model; None = from scratch.
    suite: the procedural math suite (needs step-level truth for the localization labels).
    suite_seed: the RL run's `env.suite_seed`; its train problems are left out of the warm-start
        data and its val split is the one the pass rate is measured on.
    data_seeds: suite seeds the warm-start problems come from (problems of the RL train split
        for `suite_seed` are dropped, val/test problems never appear: splits hash the text).
    n_tasks_per_seed: problems generated per data seed.
    vocab_size: size cap of the byte-level BPE tokenizer trained on the prompts (digits are single
        tokens; the narrow corpus usually saturates below the cap).
    shape: the model architecture (see ModelShape).
    fewshot: render prompts with the worked example (`env.fewshot`); off for a model trained
        from scratch, whose prompts are then ~2x shorter.
    max_thoughts: thought budget when measuring the pass rate (`env.max_thoughts`).
    max_thought_tokens: token budget of one thought when measuring (`env.max_thought_tokens`).
    localize_variant: the localization prompt variant taught ("L2" hides the answer).
    localize_worked_example: show localize.py's worked example in the localization prompt.
    batch_size: solution examples per step.
    localize_batch_size: localization examples per step (0 = no localization training).
    localize_weight: weight of the localization loss next to the solution loss.
    lr: AdamW peak learning rate. warmup_steps: linear warm-up. weight_decay: AdamW decay.
    lr_schedule: after warm-up, "constant", "linear" (to 0 at max_steps) or "cosine" (likewise).
    grad_clip: max global gradient norm.
    max_steps: stop after this many steps even when the target was not reached.
    max_minutes: stop after this much wall time even when the target was not reached.
    eval_every: measure greedy pass rate (and localization accuracy) every this many steps.
    val_tasks: val problems the pass rate is measured on (the first N of the split).
    localize_eval: held-out corrupted val rollouts the localization accuracy is measured on.
    target_low: stop at the first evaluation whose greedy val pass rate reaches this.
    target_high: a pass rate above this is reported as overshooting the target band.
    threads: torch CPU threads (1: on a shared 2-core machine one thread was ~5x faster per step
        than two, measured; None leaves torch's default).
    seed: weights, data order and corruptions.
    """

    out: str = "outputs/sft/arith_tiny"
    init: str | None = None
    suite: str = "arith"
    suite_seed: int = 0
    data_seeds: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7, 8])
    n_tasks_per_seed: int = 5000
    vocab_size: int = 1024
    shape: ModelShape = field(default_factory=ModelShape)
    fewshot: bool = False
    max_thoughts: int = 8
    max_thought_tokens: int = 48
    localize_variant: str = "L2"
    localize_worked_example: bool = False
    batch_size: int = 16
    localize_batch_size: int = 8
    localize_weight: float = 1.0
    lr: float = 3e-3
    warmup_steps: int = 100
    lr_schedule: str = "cosine"
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_steps: int = 2700
    max_minutes: float = 120.0
    eval_every: int = 100
    val_tasks: int = 100
    localize_eval: int = 100
    target_low: float = 0.20
    target_high: float = 0.40
    threads: int | None = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.target_low <= self.target_high <= 1.0:
            raise ValueError(f"need 0 <= target_low <= target_high <= 1, got {self.target_low}, "
                             f"{self.target_high}")
        for name in ("batch_size", "max_steps", "eval_every", "val_tasks", "n_tasks_per_seed"):
            if getattr(self, name) < 1:
                raise ValueError(f"sft {name} must be >= 1, got {getattr(self, name)}")
        if self.localize_batch_size < 0 or self.localize_eval < 0:
            raise ValueError("localize_batch_size and localize_eval must be >= 0")
        if self.suite_seed in self.data_seeds:
            raise ValueError(f"data_seeds {self.data_seeds} must not contain suite_seed "
                             f"{self.suite_seed} (the RL run's own training problems)")
