"""The asynchronous per-trajectory rollout loop (`codereset.generation.agent_loop`) and the async
vLLM backend's logic (`codereset.generation.vllm_async`) against a fake `AsyncLLM` (no vLLM).

Known answers come from the toy model of `fake_async_engine`: its continuation is a pure function
of the prefix, so a rollout written thought by thought must equal the same rollout written in one
go and cut afterwards (the synchronous path), token for token."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from fake_async_engine import FakeAsyncLLM, params_factory, toy_continuation
from scripted_policy import STOP, MarkerVerifier, byte_tokenizer, make_task

from codereset.generation.agent_loop import Aborted, request_seed
from codereset.generation.base import Completion, EpisodeEnd, GenerationBackend, Sampling, as_token_ids, stop_cut
from codereset.generation.options import VLLMConfig
from codereset.generation.vllm_async import AsyncVLLMBackend
from codereset.rollouts.rollout import Roller
from envs.rules import ThoughtRules

RULES = ThoughtRules(max_thoughts=6, max_thought_tokens=40)


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


class ToyBackend(GenerationBackend):
    """The synchronous reference: the toy model's greedy continuation in ONE call per row, cut
    by the shared stop rule (what a blocking backend returns)."""

    def __init__(self, tok):
        self.tokenizer, self.stats = tok, {"calls": 0}

    def generate(self, prefixes, n, sampling, stop=()):
        assert sampling.greedy
        out = []
        for ids in as_token_ids(self.tokenizer, prefixes):
            raw, _ = toy_continuation(self.tokenizer, ids, 0, sampling.max_new_tokens)
            kept, reason = stop_cut(self.tokenizer, raw, stop, {self.tokenizer.eos_token_id})
            out.append([Completion(kept, self.tokenizer.decode(kept), reason) for _ in range(n)])
        return out

    def sync_weights(self, model):
        pass


def backend(tok, engine, **cfg):
    return AsyncVLLMBackend.on_engine(engine, tok, VLLMConfig(engine="async", **cfg), [tok.eos_token_id],
                                      params_factory)


def by_row(delays: dict[int, float]):
    """A delay rule: requests of prefix p sleep delays.get(p, 0) seconds."""
    return lambda record: delays.get(int(record.request_id.split("-")[0].removeprefix("row")), 0.0)


def test_greedy_rollouts_token_identical_to_the_synchronous_path_resets_included(tok):
    tasks = [make_task(i) for i in range(3)]
    sync = Roller(ToyBackend(tok), RULES, temperature=0.0, mode="continuous")
    engine = FakeAsyncLLM(tok, delay=by_row({0: 0.03, 2: 0.01}))
    with backend(tok, engine) as b:
        loop = Roller(b, RULES, temperature=0.0, mode="continuous")
        ref = [g[0] for g in sync.run([sync.fresh(t) for t in tasks], 1)]
        got = [g[0] for g in loop.run([loop.fresh(t) for t in tasks], 1)]
        assert [r.segments for r in got] == [r.segments for r in ref]
        assert [(r.status, r.finish) for r in got] == [(r.status, r.finish) for r in ref]
        assert all(r.n_thoughts == 4 and r.status == "terminated" for r in got)
        # resets: the same stored prefixes through both paths
        starts = [r.reset_state(h) for r in ref for h in (1, 2, 3)]
        ref_resets = sync.run(starts, 2)
        got_resets = loop.run(starts, 2)
        assert [[r.segments for r in g] for g in got_resets] == [[r.segments for r in g] for g in ref_resets]
    # one request per thought, each continuing the stored ids exactly (never re-tokenized)
    assert all(rec.params.stop == [STOP] for rec in engine.records)
    for r in got:
        ids = list(r.prompt_ids)
        asked = [rec.prompt_ids for rec in engine.records if rec.prompt_ids[: len(r.prompt_ids)] == r.prompt_ids
                 and len(rec.prompt_ids) <= len(r.prefix_ids())]
        for seg in r.segments[:-1]:
            assert ids in asked
            ids = ids + seg


def test_rows_run_concurrently_and_report_as_each_ends(tok):
    # row 0's first thought takes 0.5 s, every other request none
    engine = FakeAsyncLLM(tok, delay=lambda rec: 0.5 if rec.request_id.startswith("row0-0-t0-") else 0.0)
    ended: list[tuple[int, float]] = []
    with backend(tok, engine) as b:
        roller = Roller(b, RULES, temperature=0.0, mode="continuous")
        starts = [roller.fresh(make_task(i)) for i in range(4)]
        t0 = time.perf_counter()
        roller.run(starts, 1, on_done=lambda r: ended.append((int(r.task.task_id[1:]), time.perf_counter() - t0)))
        assert b.stats["max_in_flight"] == 4  # every row's first thought in the engine at once
    order = [task for task, _ in ended]
    # the slow row held nobody back: rounds would end all four together, reported in row order (0 first)
    assert order[-1] == 0 and sorted(order) == [0, 1, 2, 3]
    slow_requests = [i for i, rec in enumerate(engine.records) if rec.request_id.startswith("row0-")]
    fast_requests = [i for i, rec in enumerate(engine.records) if not rec.request_id.startswith("row0-")]
    assert max(fast_requests) < slow_requests[1]  # every fast thought was asked while the slow one ran
    assert engine.max_in_flight == 4


def test_seeded_draws_depend_on_prefix_slot_and_thought_not_on_serving_order(tok):
    sampling_rules = RULES
    results = []
    for delays in ({0: 0.02}, {1: 0.02, 2: 0.01}):
        engine = FakeAsyncLLM(tok, delay=by_row(delays))
        with backend(tok, engine) as b:
            roller = Roller(b, sampling_rules, temperature=0.7, mode="continuous").seeded(11)
            groups = roller.run([roller.fresh(make_task(i)) for i in range(3)], 2)
        results.append([[r.segments for r in g] for g in groups])
        seeds = {(rec.request_id.rsplit("-", 1)[0]): rec.params.seed for rec in engine.records}
        assert seeds["row1-0-t2"] == request_seed(11, 1, 0, 2)
    assert results[0] == results[1]
    assert results[0][0][0] != results[0][0][1]  # two slots of one prompt draw differently
    assert len({request_seed(11, p, j, t) for p in range(5) for j in range(8) for t in range(6)}) == 240


def test_aborted_rows_are_cancelled_counted_and_never_reported(tok):
    engine = FakeAsyncLLM(tok, delay=lambda record: 0.05 if record.request_id.startswith("row0-1") else 0.001)
    stop_row = threading.Event()
    done = []
    with backend(tok, engine) as b:
        watch = EpisodeEnd(STOP, RULES.max_thought_tokens, lambda p, ids: tok.decode(ids).count("```python") > 0)

        def on_done(p, j, c):
            done.append((p, j))
            if (p, j) == (0, 0):
                stop_row.set()

        out = b.generate_streaming([[1, 2, 3]], 3, Sampling(temperature=0.7, max_new_tokens=200, seed=3), (),
                                   on_done, episode_end=watch, abort=lambda p, j: j == 1 and stop_row.is_set())
        assert isinstance(out[0][1], Aborted) and not isinstance(out[0][0], Aborted)
        assert (0, 1) not in done and sorted(done) == [(0, 0), (0, 2)]
        assert b.stats["aborted_rows"] == 1
        assert b.stats["aborted_tokens"] == len(out[0][1].token_ids)
        assert any(rec.cancelled for rec in engine.records if rec.request_id.startswith("row0-1"))
        finished = [c for c in out[0] if not isinstance(c, Aborted)]
        # every served token counted once: the finished rows' and the aborted row's
        assert b.stats["generated_tokens"] == sum(len(c.token_ids) for c in finished) + b.stats["aborted_tokens"]


def test_stats_add_up(tok):
    engine = FakeAsyncLLM(tok)
    with backend(tok, engine) as b:
        roller = Roller(b, RULES, temperature=0.7, mode="continuous")
        groups = roller.run([roller.fresh(make_task(i)) for i in range(2)], 3)
        rollouts = [r for g in groups for r in g]
        assert b.stats["rows"] == 6 and b.stats["calls"] == 1
        assert b.stats["requests"] == len(engine.records) == sum(r.n_thoughts for r in rollouts)
        # EOS ends the episode: counted by the rollout (sequence), not among the engine's kept ids
        assert b.stats["generated_tokens"] == sum(r.generated_tokens - r.ended_with_eos for r in rollouts)
        assert b.stats["prefix_tokens"] == sum(len(rec.prompt_ids) for rec in engine.records)
        assert 0 < b.stats["prefix_tokens_cached"] == sum(rec.cached for rec in engine.records)
        roller.score(MarkerVerifier(RULES), rollouts)
        assert {r.correct for r in rollouts} == {True, False}


def test_greedy_one_row_per_prefix_copied(tok):
    engine = FakeAsyncLLM(tok)
    with backend(tok, engine) as b:
        out = b.generate([[5, 6, 7]], 3, Sampling(temperature=0.0, max_new_tokens=30), [STOP])
    assert len(engine.records) == 1 and len(out[0]) == 3
    assert out[0][0].token_ids == out[0][2].token_ids and out[0][0] is not out[0][2]
    assert out[0][0].finish_reason == "stop" and out[0][0].text.endswith(STOP)


def _tiny_model(tmp_path):
    from codereset.generation.vllm_export import export_checkpoint
    from codereset.models import ModelConfig, load_model

    model, tok = load_model(ModelConfig(name="tiny", tokenizer="bytes"))
    export_checkpoint(model, tok, tmp_path / "model", torch.float32, merge_lora=False)
    return model, tok


def test_weight_sync_in_place_timed_and_sleep_wake_order(tmp_path):
    model, tok = _tiny_model(tmp_path)
    engine = FakeAsyncLLM(tok)
    b = backend(tok, engine, sleep=True)
    b.sync_dir, b.dtype = tmp_path, torch.float32
    try:
        b.offload()
        b.offload()  # already asleep: nothing more
        b.sync_weights(model)
        assert engine.calls == [("sleep", 1), ("wake_up", ("weights",)),
                                ("collective_rpc", "codereset_reload_weights"), ("wake_up", ("kv_cache",)),
                                ("reset_prefix_cache",)]
        assert b.stats["sleeps"] == 1 and b.stats["weight_syncs"] == 1
        assert 0 < b.stats["last_sync_s"] == pytest.approx(b.stats["sync_time_s"])
        b.generate([[1, 2]], 1, Sampling(temperature=0.0, max_new_tokens=4))  # awake: no wake call
        assert engine.calls[-1] == ("reset_prefix_cache",)
        b.offload()  # a skipped update: no sync follows, the next generate wakes everything
        b.generate([[1, 2]], 1, Sampling(temperature=0.0, max_new_tokens=4))
        assert engine.calls[-2:] == [("sleep", 1), ("wake_up", ())]
    finally:
        b.close()
    assert engine.calls[-1] == ("shutdown",)


def test_without_sleep_offload_is_a_no_op_and_sync_reloads_in_place(tmp_path):
    model, tok = _tiny_model(tmp_path)
    engine = FakeAsyncLLM(tok)
    with backend(tok, engine) as b:
        b.sync_dir, b.dtype = tmp_path, torch.float32
        b.offload()
        b.sync_weights(model)
        b.sync_weights(model)
    assert [c for c in engine.calls if c[0] != "shutdown"] == [("collective_rpc", "codereset_reload_weights"),
                                                              ("reset_prefix_cache",)] * 2
    assert b.stats["weight_syncs"] == 2


def test_calls_from_several_threads_share_the_engine_and_the_counters_add_up(tok):
    """sampling.batching=graph calls the backend from one thread per prompt: the calls' rows are in
    the engine together, every call returns its own rows, and the counters hold every call."""
    engine = FakeAsyncLLM(tok, delay=lambda rec: 0.05)
    with backend(tok, engine) as b:
        roller = Roller(b, RULES, temperature=0.0, mode="continuous", batching="graph")
        tasks = [make_task(i) for i in range(4)]
        got: dict[int, list] = {}

        def one(i):
            got[i] = roller.run([roller.fresh(tasks[i])], 2)[0]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert b.stats["calls"] == 4 and b.stats["rows"] == 4  # greedy: one row per prefix, copied
        assert b.stats["peak_in_flight"] == 4 and b.stats["requests"] == len(engine.records)
        assert b.stats["generated_tokens"] == sum(len(s) for i in got for s in got[i][0].segments)
    sync = Roller(ToyBackend(tok), RULES, temperature=0.0, mode="continuous")
    for i in range(4):
        ref = sync.run([sync.fresh(tasks[i])], 1)[0][0]
        assert [r.segments for r in got[i]] == [ref.segments, ref.segments]
