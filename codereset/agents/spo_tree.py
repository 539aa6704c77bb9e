"""SPO-tree: segment-level tree sampling; each segment is credited with the tree's Monte-Carlo values.

Per prompt, a tree with branching factors b_1..b_D (`agent.tree`): the root (the prompt) has b_1
children, each a segment of the episode; a node at depth d < D has b_{d+1} children that continue
its state. A segment ends at the first thought boundary at or past `segment_tokens` generated
tokens (depth D's segments run to the episode's end); an episode that ends inside a segment makes
that node a leaf. Values: a leaf's is its episode's reward, an inner node's the mean of its
children's (the Monte-Carlo value of its state under the tree), and a segment's advantage is
V(node) - V(parent), i.e. the node's value minus the mean of its siblings' (each set of siblings
is one group, advantages set here, not by trainer.advantage).

Generation: every node's episode is drawn to its end at once (one batched `Roller.run` per
depth); a node's first child continues that same draw, and only b - 1 new continuations are
drawn from its state (token-exact `reset_state`), so every prefix token is generated once per
branch point and continued from its stored ids. The trained units are the segments: a node
trains only its own segment's tokens (its prefix is masked), so every generated token is trained
once. With the release preset [2, 4] a prompt has 8 leaves, the 8 trained slots of the other
agents; [6, 6, 6] (the SPO paper's) has 216.

Pairing (trainer.paired): the first level's b_1 episodes are the tree's only fresh draws, so they
are what is comparable with the other agents: they come from `BufferBuilder.first_draws` and are
the draws every agent of the comparison starts from; the deeper branches continue them from the
running stream. The pass rate is over the first level, plus the pairing's untrained probe when
b_1 is below the paired count (the release preset draws 2 more per prompt at the default split
1x4: tokens_seed_search).

Departures from the SPO paper (Guo et al., 2025): segments end at thought boundaries (the paper
cuts at a fixed token count), advantages are not normalized, and the loss is this project's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from codereset.agents.common import OwnGroupsAgent, generate
from codereset.rollouts import buffer  # module import: codereset.rollouts.buffer imports the agents package
from codereset.rollouts.rollout import Rollout
from envs.verify import Outcome

PRESETS: dict[str, tuple[list[int], int]] = {"release": ([2, 4], 600), "spo_paper": ([6, 6, 6], 600)}


@dataclass
class Node:
    """One segment: thoughts [start, end) of `path` (a rollout drawn to its episode's end)."""

    path: Rollout
    start: int
    end: int
    depth: int
    children: list["Node"] = field(default_factory=list)
    value: float = 0.0

    @property
    def leaf(self) -> bool:
        return not self.children


def segment_end(rollout: Rollout, start: int, segment_tokens: int) -> int:
    """End (exclusive thought index) of the segment that starts at thought `start`: the first
    thought boundary at or past `segment_tokens` tokens, or the episode's end."""
    tokens = 0
    for j in range(start, rollout.n_thoughts):
        tokens += len(rollout.segments[j])
        if tokens >= segment_tokens:
            return j + 1
    return rollout.n_thoughts


def tree_settings(cfg: Any) -> tuple[list[int], int]:
    """(branching, segment_tokens) from `TreeConfig`: the preset's, with explicit fields overriding."""
    if cfg.preset not in PRESETS:
        raise ValueError(f"unknown agent.tree.preset={cfg.preset!r}; known: {sorted(PRESETS)}")
    branching, seg = PRESETS[cfg.preset]
    branching = list(cfg.branching) if cfg.branching is not None else list(branching)
    seg = int(cfg.segment_tokens) if cfg.segment_tokens is not None else seg
    if not branching or any(int(b) < 1 for b in branching) or seg < 1:
        raise ValueError(f"agent.tree needs branching factors >= 1 and segment_tokens >= 1, got "
                         f"branching={branching}, segment_tokens={seg}")
    return [int(b) for b in branching], seg


def node_value(node: Node) -> float:
    """Fill in values bottom-up: a leaf's episode reward, else the mean of its children's."""
    if node.leaf:
        node.value = node.path.reward
    else:
        node.value = sum(node_value(c) for c in node.children) / len(node.children)
    return node.value


def segment_rollout(node: Node) -> Rollout:
    """The trained unit of a node: its path up to the segment's end, prefix = thoughts before it.
    A leaf keeps its episode's end and verdict; an inner node's outcome carries its value."""
    p, end = node.path, node.end
    cut = dict(segments=[list(s) for s in p.segments[:end]], texts=list(p.texts[:end]),
               seg_logprobs=[None if lp is None else list(lp) for lp in p.seg_logprobs[:end]],
               prefix_len=node.start, kind="tree")
    if end == p.n_thoughts:
        return replace(p, **cut)
    outcome = Outcome(node.value, False, "tree_node", {"value": node.value})
    return replace(p, **cut, finish="stop", status="continue", outcome=outcome, eos_logprob=None)


class SPOTreeAgent(OwnGroupsAgent):
    name = "spo_tree"

    def __init__(self, cfg: Any, ctx: Any) -> None:
        super().__init__(cfg, ctx)
        self.branching, self.segment_tokens = tree_settings(cfg.tree)

    def grow(self, builder: Any, tasks: Sequence[Any], times: Any,
             seed: int | None = None) -> tuple[list[list[Node]], list[list[Rollout]]]:
        """The first-level nodes of each task's tree, fully expanded (see module docstring), and
        each task's untrained pairing probe (`BufferBuilder.first_draws`)."""
        depth_last = len(self.branching) - 1
        draws, probes = builder.first_draws(tasks, "tree", self.branching[0], seed, times)
        roots = [[self._node(r, 0, 0, depth_last) for r in d] for d in draws]
        frontier = [n for nodes in roots for n in nodes if n.end < n.path.n_thoughts]
        while frontier:
            width = [self.branching[n.depth + 1] for n in frontier]
            new = generate(builder, [n.path.reset_state(n.end + 1, kind="tree") for n in frontier],
                           [b - 1 for b in width], times)
            nxt = []
            for node, paths in zip(frontier, new):
                for path in [node.path, *paths]:
                    child = self._node(path, node.end, node.depth + 1, depth_last)
                    node.children.append(child)
                    if child.end < path.n_thoughts:
                        nxt.append(child)
            frontier = nxt
        return roots, probes

    def _node(self, path: Rollout, start: int, depth: int, depth_last: int) -> Node:
        end = path.n_thoughts if depth == depth_last else segment_end(path, start, self.segment_tokens)
        return Node(path, start, end, depth)

    def build_groups(self, builder: Any, tasks: Sequence[Any], times: Any,
                     seed: int | None = None) -> list[buffer.PromptBuffer]:
        trees, probes = self.grow(builder, tasks, times, seed)
        prompts = []
        for task, first, probe in zip(tasks, trees, probes):
            fresh = [n.path for n in first]  # before any reuse: the first draws, whole episodes
            groups: list[buffer.Group] = []
            siblings = [first]
            while siblings:
                nodes = siblings.pop(0)
                mean = sum(node_value(n) for n in nodes) / len(nodes)
                groups.append(buffer.Group("tree", [segment_rollout(n) for n in nodes],
                                    advantages=[n.value - mean for n in nodes]))
                siblings.extend(n.children for n in nodes if n.children)
            leaves = sum(len(g.rollouts) for g in groups if g.rollouts[0].status != "continue")
            prompts.append(buffer.PromptBuffer(task, probe, len(probe), groups=groups, pass_rollouts=fresh + probe,
                                        diagnostics={"tree_leaves": [leaves]}))
        return prompts
