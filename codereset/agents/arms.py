"""Arm labels: which method a run is, by agent, localizer and buffer split, in one string.

`DEFAULT_LOCALIZER` is each reset agent's own localizer (`codereset.agents.localizers`), the one
table the agents and the labels read. A reset agent's arm is ``agent-split`` (``caro-1x8``), or
``agent[localizer]-split`` when it runs another localizer than its own (``rrpo[entropy]-1x8``);
the split is left out when it is method.md's default 1x4 (``caro`` is CARO-1x4, as every run
before the splits were compared was). An agent that never resets is its name alone (``grpo``). Run folders of the
comparisons (`benchmarks/agent_comparison.py`), the report's groups (`group_by: arm`) and its
summary.json use these labels, so CARO-1x8 and CARO-1x4 are never merged or taken for repeated
seeds of one group. Pure: no torch, no agent import (the report reads it).
"""

from __future__ import annotations

from typing import Any

DEFAULT_SPLIT = "1x4"  # method.md's buffer (codereset.config BufferConfig.split)
DEFAULT_LOCALIZER: dict[str, str] = {"rrpo": "uniform", "srpo": "self", "caro": "oracle", "entropy": "entropy"}


def arm_label(agent: str, localizer: str | None, split: str) -> str:
    """The arm of a run of `agent` with `agent.localizer` = `localizer` and `buffer.split` = `split`."""
    own = DEFAULT_LOCALIZER.get(agent)
    if own is None:
        return agent
    tag = "" if localizer in (None, own) else f"[{localizer}]"
    return f"{agent}{tag}" + ("" if split == DEFAULT_SPLIT else f"-{split}")


def arm_of_config(config: dict[str, Any]) -> str | None:
    """The arm of a run from its saved config (a plain dict); None without an agent name."""
    agent = config.get("agent") or {}
    if not isinstance(agent, dict) or not agent.get("name"):
        return None
    split = (config.get("buffer") or {}).get("split", "1x4")
    return arm_label(str(agent["name"]), agent.get("localizer"), str(split))
