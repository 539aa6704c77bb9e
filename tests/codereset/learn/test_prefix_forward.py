"""The shared-prefix forward: the prefix tree it builds, and log-probs and gradients equal to the
plain forward's (the reference) on the tiny model in fp32 - base groups and reset groups with
different prefix lengths, right padding, an empty context, under micro-batching - with fewer
forward tokens."""

import copy

import pytest
import torch

from codereset.learn.forwards import make_forward
from codereset.models import ModelConfig, load_model
from codereset.learn.prefix_forward import prefix_tree

REL = 1e-5  # gradients of the two forwards agree to 1e-5 relative (to the largest entry) in fp32


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, _ = load_model(ModelConfig(name="tiny", tokenizer="bytes", device="cpu", dtype="float32"))
    return model


def test_prefix_tree_shares_each_prefix_once():
    root, ends = prefix_tree([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6], [1, 2, 7], [], [9]])
    assert [n.end for n in ends] == [4, 4, 6, 3, 0, 1]
    assert ends[0] is ends[1] and ends[4] is root
    shared = ends[0].parent
    assert shared.span == [1, 2] and shared.end == 2 and shared.parent is root
    assert ends[0].span == [3, 4] and ends[2].span == [5, 6] and ends[2].parent is ends[0]
    assert ends[3].span == [7] and ends[3].parent is shared
    assert sorted(root.children) == [1, 9]


def test_prefix_tree_splits_an_edge_when_a_shorter_context_comes_later():
    root, ends = prefix_tree([[5, 6, 7, 8], [5, 6]])
    assert ends[1].span == [5, 6] and ends[0].parent is ends[1] and ends[0].span == [7, 8]
    assert [n.end for n in ends] == [4, 2]


FEWSHOT = list(range(30, 70))          # shared by both prompts (the worked example)
P1, P2 = FEWSHOT + [1, 2, 3, 4, 5], FEWSHOT + [7, 8, 9]
PREFIX_A, PREFIX_B = [20, 21, 22], [20, 23, 24, 25, 26, 27]   # two reset prefixes of prompt 1


def rows():
    """(sequence, trained_from): a base group of each prompt, two reset groups of prompt 1 with
    prefixes of different lengths sharing their first token, lengths from 1 to 9 trained tokens,
    and one row whose context is empty (trained_from 1)."""
    out = [(P1 + [11, 12, 13], len(P1)), (P1 + [14, 15, 16, 17, 18, 19, 10, 11, 12], len(P1)),
           (P1 + PREFIX_A + [40, 41], len(P1) + 3), (P1 + PREFIX_A + [42, 43, 44, 45], len(P1) + 3),
           (P1 + PREFIX_B + [46], len(P1) + 6), (P1 + PREFIX_B + [47, 48, 49], len(P1) + 6),
           (P2 + [50], len(P2)), (P2 + [51, 52, 53, 54, 55, 56, 57], len(P2)),
           ([60, 61, 62, 63], 1)]
    return [s for s, _ in out], [t for _, t in out]


ADV = [1.0, -0.5, 0.7, -1.2, 0.3, 2.0, -0.8, 0.4, 1.1]


def run(model, name, micro, temperature=0.7):
    """Per-row trained-token log-probs and the parameter gradients of sum_i A_i mean_t log pi."""
    seqs, tf = rows()
    model.zero_grad(set_to_none=True)
    fw = make_forward(name, model, seqs, tf, micro, temperature, 258)
    logps = {}
    for chunk in fw.chunks:
        sc = fw.score(chunk)
        for j, i in enumerate(chunk):
            logps[i] = sc.logprobs[j][sc.mask[j] > 0].tolist()
        seq_mean = (sc.logprobs * sc.mask).sum(1) / sc.mask.sum(1)  # (b,)
        (-(torch.tensor([ADV[i] for i in chunk]) * seq_mean).sum() / len(seqs)).backward()
    fw.backward_shared()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad(set_to_none=True)
    return logps, grads, fw.forward_tokens


@pytest.mark.parametrize("micro", [1, 3, 16])
def test_shared_prefix_gradients_equal_the_plain_ones(tiny, micro):
    ref_lp, ref_grads, ref_tokens = run(tiny, "plain", 4)
    lp, grads, tokens = run(tiny, "shared_prefix", micro)
    seqs, tf = rows()
    for i, (seq, start) in enumerate(zip(seqs, tf)):
        assert len(lp[i]) == len(seq) - start
        assert lp[i] == pytest.approx(ref_lp[i], abs=1e-5)
    for g, ref in zip(grads, ref_grads):
        assert ref.abs().max() > 0
        assert (g - ref).abs().max() <= REL * ref.abs().max()
    assert ref_tokens == sum(len(s) for s in seqs)
    # each tree node once - the few-shot part (40), prompt 1's rest but its last token (4), prompt
    # 2's (2), prompt 1's last token + the prefixes' shared first token (2), prefix A's rest but its
    # last token (1), prefix B's (4) - then each row's trained tokens
    assert tokens == 40 + 4 + 2 + 2 + 1 + 4 + sum(len(s) - t for s, t in zip(seqs, tf))
    assert tokens < ref_tokens / 3


def test_untempered_and_no_grad_scores_match_the_plain_forward(tiny):
    seqs, tf = rows()
    with torch.no_grad():
        for temperature in (1.0, 0.5):
            outs = []
            for name in ("plain", "shared_prefix"):
                fw = make_forward(name, tiny, seqs, tf, 4, temperature, 258)
                got = {}
                for chunk in fw.chunks:
                    sc = fw.score(chunk)
                    for j, i in enumerate(chunk):
                        got[i] = (sc.logprobs[j][sc.mask[j] > 0].tolist(), sc.entropy[j][sc.mask[j] > 0].tolist())
                fw.backward_shared()
                outs.append(got)
            for i in range(len(seqs)):
                assert outs[0][i][0] == pytest.approx(outs[1][i][0], abs=1e-5)
                assert outs[0][i][1] == pytest.approx(outs[1][i][1], abs=1e-5)


def test_gradient_checkpointing_is_refused_with_the_fix(tiny):
    model = copy.deepcopy(tiny)
    model.gradient_checkpointing_enable()
    with pytest.raises(ValueError, match="trainer.forward=plain"):
        make_forward("shared_prefix", model, [[1, 2, 3]], [1], 1, 1.0, 258)
    with pytest.raises(ValueError, match="known"):
        make_forward("tree", tiny, [[1, 2, 3]], [1], 1, 1.0, 258)


def test_shared_prefix_gradients_equal_the_plain_ones_under_lora():
    """A PEFT-wrapped policy (model=lora) passes the cache through: the same equality."""
    torch.manual_seed(0)
    cfg = ModelConfig(name="tiny", tokenizer="bytes", device="cpu", dtype="float32")
    cfg.lora.enabled, cfg.lora.r, cfg.lora.alpha = True, 4, 8
    model, _ = load_model(cfg)
    for p in model.parameters():  # LoRA's B starts at 0; move it so every adapter gets a gradient
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02)
    _, ref_grads, _ = run(model, "plain", 4)
    _, grads, _ = run(model, "shared_prefix", 3)
    assert len(grads) == len(ref_grads) > 0
    for g, ref in zip(grads, ref_grads):
        assert (g - ref).abs().max() <= REL * ref.abs().max()
