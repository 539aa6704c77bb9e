"""Shared-prefix forward for the update: every shared prefix is run through the model once.

All rollouts of a prompt repeat its tokens (with the few-shot example, most of each sequence; the
prompts of different tasks share the example too), and a reset group also repeats its reset
prefix. This forward puts the rollouts' contexts in a prefix tree and runs each tree node once:

- Context of rollout i: c_i = sequence_i[: trained_from_i - 1], everything before the token whose
  logit predicts the first trained token. `prefix_tree` builds the radix tree of the c_i (a node
  per branching point and per context end; the root is the empty prefix).
- Nodes are run depth by depth (the nodes of a depth in batches of at most `micro_batch_size`
  rows), each continuing its parent's keys/values (a `DynamicCache` built from them, right-padded
  to the longest parent with the attention mask marking the padding, position ids given
  explicitly). Only the last position's logits are computed for nodes (`logits_to_keep=1`).
- Leaf rows (the rollouts, in chunks of `micro_batch_size`) run sequence_i[trained_from_i - 1 :
  -1] on top of their context node's keys/values: one token of overlap with the prefix, so every
  trained token's logit comes from a leaf row and the leaf rows' logits are exactly the trained
  tokens' predictions (Scored.start is 0).

Gradients: with grad enabled the node graph is built once; each node's keys/values enter the leaf
chunks as detached leaf tensors, so each leaf chunk's backward stops there and accumulates their
gradient. `backward_shared()` then back-propagates those accumulated gradients through the node
graph in one call: by the chain rule the parameter gradients equal those of the plain forward,
while leaf activations are freed chunk by chunk (the node activations are held until then).

Forward tokens: every node's span once plus each rollout's generated tokens, against the plain
forward's whole sequences (`forward_tokens`).

Limits: the model must accept `past_key_values` (a transformers `DynamicCache`) and
`position_ids`; full-attention decoders only (a sliding-window layer would see the padded past
differently); not with gradient checkpointing (transformers turns the cache off in training with
it): use `trainer.forward=plain` there. Written for transformers 4.5x and 5.x cache objects.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from codereset.learn.logprobs import score_logits
from codereset.learn.scored import GRADIENT_CHECKPOINTING, Scored, check_rows


class Node:
    """A span of tokens in the prefix tree: the context `ids` of its parent followed by `span`.

    end: length of the whole context up to and including this node (root: 0).
    kv: per layer (keys, values) of the whole context, (1, H, end, D), in the graph.
    kv_in: detached copies of `kv` (requires_grad) that the leaf rows read; None for nodes no
        leaf reads or without grad.
    """

    def __init__(self, parent: "Node | None", span: list[int]) -> None:
        self.parent = parent
        self.span = span
        self.children: dict[int, Node] = {}
        self.end = 0
        self.depth = 0
        self.has_leaves = False
        self.kv: list[tuple[Tensor, Tensor]] | None = None
        self.kv_in: list[tuple[Tensor, Tensor]] | None = None


def prefix_tree(contexts: Sequence[Sequence[int]]) -> tuple[Node, list[Node]]:
    """Radix tree of `contexts`. Returns (root, node of each context): node_of[i].end ==
    len(contexts[i]) and the path root -> node_of[i] spells contexts[i]."""
    root = Node(None, [])
    ends: list[Node] = []
    for ctx in contexts:
        ctx = list(ctx)
        node, pos = root, 0
        while pos < len(ctx):
            child = node.children.get(ctx[pos])
            if child is None:
                child = Node(node, ctx[pos:])
                node.children[ctx[pos]] = child
                node, pos = child, len(ctx)
                break
            span = child.span
            k = 0
            while k < len(span) and pos + k < len(ctx) and span[k] == ctx[pos + k]:
                k += 1
            if k < len(span):  # split the edge at k
                mid = Node(node, span[:k])
                child.span, child.parent = span[k:], mid
                mid.children[child.span[0]] = child
                node.children[ctx[pos]] = mid
                child = mid
            node, pos = child, pos + k
        ends.append(node)
    stack = [root]
    while stack:  # ends and depths (edges may have been split after a node was created)
        node = stack.pop()
        for child in node.children.values():
            child.end, child.depth = node.end + len(child.span), node.depth + 1
            stack.append(child)
    return root, ends


def _cache_layers(cache: Any) -> list[tuple[Tensor, Tensor]]:
    """(keys, values) per layer of a transformers cache (5.x `.layers`, 4.x `.key_cache`, tuples)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache))
    return [(k, v) for k, v, *_ in cache]


def _new_cache(layers: list[tuple[Tensor, Tensor]]) -> Any:
    from transformers import DynamicCache

    cache = DynamicCache()
    for i, (k, v) in enumerate(layers):
        cache.update(k, v, i)
    return cache


class SharedPrefixForward:
    """The "shared_prefix" forward of `codereset.learn.forwards` (see the module docstring)."""

    def __init__(self, model: Any, sequences: Sequence[Sequence[int]], trained_from: Sequence[int],
                 micro_batch_size: int, temperature: float, pad_id: int) -> None:
        check_rows(sequences, trained_from, micro_batch_size)
        if getattr(model, "is_gradient_checkpointing", False):
            raise ValueError(GRADIENT_CHECKPOINTING)
        self.model, self.temperature, self.pad_id = model, temperature, pad_id
        self.micro_batch_size = micro_batch_size
        self.sequences = [list(s) for s in sequences]
        self.trained_from = list(trained_from)
        self.root, self.ctx_node = prefix_tree([s[: t - 1] for s, t in zip(self.sequences, self.trained_from)])
        self.nodes = self._nodes_by_depth()
        for node in self.ctx_node:
            node.has_leaves = True
        rank = {id(n): k for k, n in enumerate(self.nodes)}
        order = sorted(range(len(self.sequences)),
                       key=lambda i: (rank.get(id(self.ctx_node[i]), -1), len(self.sequences[i])))
        self.chunks = [order[s : s + micro_batch_size] for s in range(0, len(order), micro_batch_size)]
        self.forward_tokens = 0
        self._ready = False
        self._keep_arg: bool | None = None  # whether the model takes logits_to_keep
        self._grad = False

    @property
    def prefix_tokens(self) -> int:
        """Tokens of all tree nodes (each shared prefix counted once)."""
        return sum(len(n.span) for n in self.nodes)

    def _nodes_by_depth(self) -> list[Node]:
        out, level = [], list(self.root.children.values())
        while level:
            out.extend(level)
            level = [c for n in level for c in n.children.values()]
        return out

    # -- batched forward over rows that continue given nodes ------------------------------
    def _past(self, parents: list[Node], width: int, detached: bool) -> Any:
        """Keys/values of each row's parent context, right-padded to `width`; None if width 0."""
        if width == 0:
            return None
        ref = next(p for p in parents if p.end > 0)
        ref_kv = ref.kv_in if detached and ref.kv_in is not None else ref.kv
        layers = []
        for li in range(len(ref_kv)):
            ks, vs = [], []
            for p in parents:
                if p.end == 0:
                    k0 = ref_kv[li][0]
                    zeros = k0.new_zeros(1, k0.shape[1], width, k0.shape[3])
                    ks.append(zeros)
                    vs.append(ref_kv[li][1].new_zeros(1, ref_kv[li][1].shape[1], width, ref_kv[li][1].shape[3]))
                    continue
                kv = p.kv_in if detached and p.kv_in is not None else p.kv
                k, v = kv[li]
                ks.append(F.pad(k, (0, 0, 0, width - p.end)))
                vs.append(F.pad(v, (0, 0, 0, width - p.end)))
            layers.append((torch.cat(ks, dim=0), torch.cat(vs, dim=0)))  # (n,H,width,D)
        return _new_cache(layers)

    def _run(self, parents: list[Node], inputs: list[list[int]], last_only: bool, detached: bool) -> tuple[Any, Any, int]:
        """One model call: row r continues parents[r]'s context with inputs[r]. Returns (output,
        attention mask, padded past width)."""
        device = next(self.model.parameters()).device
        n, width, cols = len(inputs), max(p.end for p in parents), max(len(x) for x in inputs)
        ids = torch.full((n, cols), int(self.pad_id), dtype=torch.long)
        attn = torch.zeros((n, width + cols), dtype=torch.long)
        pos = torch.zeros((n, cols), dtype=torch.long)
        for r, (p, x) in enumerate(zip(parents, inputs)):
            ids[r, : len(x)] = torch.as_tensor(x, dtype=torch.long)
            attn[r, : p.end] = 1
            attn[r, width : width + len(x)] = 1
            pos[r] = p.end + torch.arange(cols).clamp(max=len(x) - 1)
        kwargs = dict(input_ids=ids.to(device), attention_mask=attn.to(device), position_ids=pos.to(device),
                      past_key_values=self._past(parents, width, detached), use_cache=True)
        self.forward_tokens += sum(len(x) for x in inputs)
        if last_only and self._keep_arg is not False:
            try:
                out = self.model(**kwargs, logits_to_keep=1)
                self._keep_arg = True
                return out, attn, width
            except TypeError:
                self._keep_arg = False
                kwargs["past_key_values"] = self._past(parents, width, detached)  # the failed call may have filled it
        return self.model(**kwargs), attn, width

    def _prepare(self) -> None:
        """Run every tree node once (depth by depth), keep its context's keys/values."""
        self._ready = True
        self._grad = torch.is_grad_enabled()
        depth_rows: dict[int, list[Node]] = {}
        for node in self.nodes:
            depth_rows.setdefault(node.depth, []).append(node)
        for depth in sorted(depth_rows):
            level = depth_rows[depth]
            for s in range(0, len(level), self.micro_batch_size):
                batch = level[s : s + self.micro_batch_size]
                out, attn, width = self._run([n.parent for n in batch], [n.span for n in batch],
                                             last_only=True, detached=False)
                layers = _cache_layers(out.past_key_values)
                for r, node in enumerate(batch):
                    real = attn[r].nonzero().squeeze(1).to(layers[0][0].device)  # (end,)
                    node.kv = [(k[r : r + 1].index_select(2, real), v[r : r + 1].index_select(2, real))
                               for k, v in layers]
                    if node.has_leaves and self._grad:
                        node.kv_in = [(k.detach().requires_grad_(), v.detach().requires_grad_())
                                      for k, v in node.kv]

    def score(self, chunk: Sequence[int]) -> Scored:
        if not self._ready:
            self._prepare()
        chunk = list(chunk)
        parents = [self.ctx_node[i] for i in chunk]
        inputs = [self.sequences[i][self.trained_from[i] - 1 : -1] for i in chunk]
        out, _, _ = self._run(parents, inputs, last_only=False, detached=True)
        device = out.logits.device
        cols = max(len(x) for x in inputs)
        targets = torch.zeros((len(chunk), cols), dtype=torch.long)
        mask = torch.zeros((len(chunk), cols), dtype=torch.float32)
        for r, i in enumerate(chunk):
            tail = self.sequences[i][self.trained_from[i] :]
            targets[r, : len(tail)] = torch.as_tensor(tail, dtype=torch.long)
            mask[r, : len(tail)] = 1.0
        mask = mask.to(device)
        scores = score_logits(out.logits, targets.to(device), self.temperature)  # (b,T)
        return Scored(chunk, scores.logprobs * mask, scores.entropy * mask, mask, [0] * len(chunk))

    def backward_shared(self) -> None:
        """Back-propagate the gradients the leaf chunks left on the nodes' keys/values through the
        node graph (one call), then free the tree's tensors."""
        tensors, grads = [], []
        for node in self.nodes:
            if node.kv_in is None:
                continue
            for (k, v), (k_in, v_in) in zip(node.kv, node.kv_in):
                for t, t_in in ((k, k_in), (v, v_in)):
                    if t_in.grad is not None:
                        tensors.append(t)
                        grads.append(t_in.grad)
        if tensors:
            torch.autograd.backward(tensors, grads)
        for node in self.nodes:
            node.kv = node.kv_in = None
