"""A step's buffer on the async engine (fake `AsyncLLM`): surplus seed-search draws are aborted as
soon as the draws before them hold the seed, counted with their tokens, never scored or trained,
and the step's token metrics still add up."""

from __future__ import annotations

import pytest
from fake_async_engine import FakeAsyncLLM, params_factory
from scripted_policy import FixedAgentRng, MarkerVerifier, byte_tokenizer, make_task

from codereset.agents import AgentContext, make_agent
from codereset.config import AgentConfig, BufferConfig
from codereset.generation.options import VLLMConfig
from codereset.generation.vllm_async import AsyncVLLMBackend
from codereset.learn.update import UpdateResult
from codereset.rollouts.buffer import BufferBuilder
from codereset.rollouts.rollout import Roller
from codereset.run.metrics import step_metrics
from envs.rules import ThoughtRules

RULES = ThoughtRules(max_thoughts=6, max_thought_tokens=40)
NO_UPDATE = UpdateResult(0.0, 0.0, False, 0, 0, 0)


def row_of(record) -> int:
    return int(record.request_id.split("-")[1])


def test_surplus_seed_search_draws_are_aborted_counted_and_never_trained():
    tok = byte_tokenizer()
    call = {"n": 0}
    # call 1: the base group, all right; call 2: the seed search (8 draws): draw 1 fails at once,
    # draws 2..7 are slow, so they are aborted when draw 1 is scored; call 3: the reset group
    engine = FakeAsyncLLM(
        tok,
        delay=lambda rec: 0.5 if call["n"] == 2 and row_of(rec) >= 2 and "-t0-" not in rec.request_id else 0.0,
        verdict=lambda rec: "WRONG" if call["n"] == 2 and row_of(rec) == 1 else "RIGHT")
    backend = AsyncVLLMBackend.on_engine(engine, tok, VLLMConfig(engine="async"), [tok.eos_token_id], params_factory)
    inner = backend.generate_streaming

    def counted(*args, **kwargs):
        call["n"] += 1
        return inner(*args, **kwargs)

    backend.generate_streaming = counted
    with backend:
        agent = make_agent("rrpo", AgentConfig(name="rrpo"), AgentContext(backend, RULES, FixedAgentRng(2)))
        roller = Roller(backend, RULES, temperature=0.7, mode="continuous")
        buf = BufferBuilder(BufferConfig(), agent, roller, MarkerVerifier(RULES)).build([make_task(0)])
    p = buf.prompts[0]
    assert call["n"] == 3
    assert len(p.draws) == 6 and p.aborted_draws == 6  # 4 base + search draws 0 and 1; 2..7 aborted
    assert p.seeds == [p.draws[5]] and not p.seeds[0].correct  # the first failure in draw order
    assert all(r.aborted is None and r.outcome is not None for r in p.draws)
    trained = [r for g in p.groups for r in g.rollouts]
    assert [g.kind for g in p.groups] == ["base", "reset"] and len(trained) == 8
    assert all(r.aborted is None for r in trained)
    assert backend.stats["aborted_rows"] == 6 and p.aborted_tokens == backend.stats["aborted_tokens"] > 0
    assert sum(rec.cancelled for rec in engine.records) == 6

    row = step_metrics(1, buf, NO_UPDATE, dict(buf.times.seconds))
    assert row["aborted_draws"] == [6] and row["tokens_aborted"] == p.aborted_tokens
    assert row["tokens_generated"] == (row["tokens_trained"] + row["tokens_seed_search"]
                                       + row["tokens_localization"] + row["tokens_aborted"])
    # every token the engine produced is in the row once (EOS ends an episode: the rollout counts it)
    eos = sum(r.ended_with_eos for r in p.draws + trained if r.prefix_len == 0 or r in trained)
    assert backend.stats["generated_tokens"] + eos == row["tokens_generated"]


def test_backends_that_cannot_abort_finish_every_draw():
    from scripted_policy import PlannedPolicy, ScriptedBackend

    tok = byte_tokenizer()
    backend = ScriptedBackend(tok, PlannedPolicy({"Problem number 0: solve it.": "RRRR" + "RWRRRRRR"}))
    rules = ThoughtRules()
    agent = make_agent("rrpo", AgentConfig(name="rrpo"), AgentContext(backend, rules, FixedAgentRng(2)))
    buf = BufferBuilder(BufferConfig(), agent, Roller(backend, rules), MarkerVerifier()).build([make_task(0)])
    p = buf.prompts[0]
    assert len(p.draws) == 12 and p.aborted_draws == 0 and "aborted_draws" not in p.diagnostics
    assert "tokens_aborted" not in step_metrics(1, buf, NO_UPDATE, dict(buf.times.seconds))
