"""The step as a graph of per-prompt tasks (`codereset.rollouts.graph`, sampling.batching=graph) on
the fake async engine (no vLLM): a prompt's localization and reset group start while another
prompt still searches; first draws and h* do not depend on the engine's timing; paired agents draw
the same first rollouts; the buffer and its metrics follow the same rules as step mode."""

from __future__ import annotations

import pickle
import random
import threading
import time

import pytest
from fake_async_engine import FakeAsyncLLM, params_factory
from scripted_policy import MarkerVerifier, byte_tokenizer, make_task

from codereset.agents import AgentContext, make_agent
from codereset.config import AgentConfig, BufferConfig
from codereset.generation.options import VLLMConfig
from codereset.generation.vllm_async import AsyncVLLMBackend
from codereset.learn.update import UpdateResult
from codereset.rollouts.buffer import BufferBuilder
from codereset.rollouts.graph import per_prompt, prompt_seed
from codereset.rollouts.rollout import Roller
from codereset.run.metrics import step_metrics
from codereset.run.timing import PhaseTimes
from envs.rules import ThoughtRules

RULES = ThoughtRules(max_thoughts=6, max_thought_tokens=40)
NO_UPDATE = UpdateResult(0.0, 0.0, False, 0, 0, 0)


def problem_of(tok, record) -> int:
    """Which task (make_task(i)) a request belongs to, from its prompt text."""
    text = tok.decode(record.prompt_ids)
    return int(text.split("Problem number ")[1].split(":")[0])


def build(tok, agent_name, tasks, *, delay=lambda rec: 0.0, verdict=lambda rec: None, batching="graph",
          seed=7, rng_seed=3, split="1x4", hooks=None):
    engine = FakeAsyncLLM(tok, delay=delay, verdict=verdict)
    backend = AsyncVLLMBackend.on_engine(engine, tok, VLLMConfig(engine="async"), [tok.eos_token_id], params_factory)
    with backend:
        agent = make_agent(agent_name, AgentConfig(name=agent_name),
                           AgentContext(backend, RULES, random.Random(rng_seed)))
        roller = Roller(backend, RULES, temperature=0.7, mode="continuous", batching=batching)
        builder = BufferBuilder(BufferConfig(split=split), agent, roller, MarkerVerifier(RULES))
        if hooks:
            hooks(builder)
        buf = builder.build(tasks, seed=seed)
    return buf, engine, backend


def wrong_for(*problems):
    """A verdict rule: every final answer of these problems is WRONG, the others RIGHT."""
    tok = byte_tokenizer()
    return lambda rec: "WRONG" if problem_of(tok, rec) in problems else "RIGHT"


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def test_a_prompt_is_localized_and_reset_while_another_still_searches(tok):
    """Problem 0 never fails in its first draws and its seed-search draws are slow; problem 1's
    first draws fail. Graph: problem 1's reset group is drawn before problem 0's search ends.
    Step mode (the phases): it waits for the search."""
    events: dict[str, float] = {}
    lock = threading.Lock()

    def hooks(builder):
        search, resets = builder._search, builder._reset_groups

        def timed_search(prompts, times):
            search(prompts, times)
            with lock:
                for p in prompts:
                    events[f"search_end_{p.task.task_id}"] = time.perf_counter()

        def timed_resets(prompts, times):
            with lock:
                for p in prompts:
                    events.setdefault(f"reset_start_{p.task.task_id}", time.perf_counter())
            resets(prompts, times)

        builder._search, builder._reset_groups = timed_search, timed_resets

    def slow_search(rec):  # problem 0's rollouts past its 4 first draws (the seed search) take 0.3 s
        return 0.3 if problem_of(tok, rec) == 0 and int(rec.request_id.split("-")[1]) >= 4 else 0.0

    tasks = [make_task(0), make_task(1)]

    def verdict(rec):
        return "WRONG" if problem_of(tok, rec) == 1 else "RIGHT"

    buf, _, _ = build(tok, "rrpo", tasks, delay=slow_search, verdict=verdict, hooks=hooks)
    assert events["reset_start_t1"] < events["search_end_t0"]
    p0, p1 = buf.prompts
    assert [g.kind for g in p1.groups] == ["base", "reset"] and p1.seeds == [p1.draws[0]]
    assert [g.kind for g in p0.groups] == ["base", "fallback"] and not p0.seeds  # no failure anywhere

    events.clear()
    build(tok, "rrpo", tasks, delay=slow_search, verdict=verdict, batching="step", hooks=hooks)
    assert events["reset_start_t1"] > events["search_end_t0"]


@pytest.mark.parametrize("agent_name", ["rrpo", "srpo"])
def test_first_draws_and_h_star_do_not_depend_on_the_engine_timing(tok, agent_name):
    """Same seeds, the engine serving the prompts in opposite orders: the same paired first draws,
    the same seeds and the same h* (each prompt's own random stream; SRPO's fallback draws from it)."""
    tasks = [make_task(i) for i in range(4)]
    verdict = wrong_for(0, 2, 3)
    runs = []
    for slow in ({0: 0.05, 1: 0.02}, {3: 0.05, 2: 0.02}):
        buf, _, _ = build(tok, agent_name, tasks, delay=lambda rec, slow=slow: slow.get(problem_of(tok, rec), 0.0),
                          verdict=verdict)
        runs.append(buf)
    a, b = runs
    for pa, pb in zip(a.prompts, b.prompts):
        assert [r.segments for r in pa.draws[:4]] == [r.segments for r in pb.draws[:4]]
        assert [s.segments for s in pa.seeds] == [s.segments for s in pb.seeds]
        assert [(g.kind, g.h) for g in pa.groups] == [(g.kind, g.h) for g in pb.groups]
    hs = [g.h for p in a.prompts for g in p.groups if g.kind == "reset"]
    assert len(hs) == 3 and all(1 <= h <= 4 for h in hs)
    if agent_name == "srpo":  # the toy model answers "step 1 ...": parsed, no fallback drawn
        return
    # the stream is the prompt's: another base draw from the agent's running stream changes h*
    # somewhere (3 seeds of 4 thoughts), while the first draws stay as they are
    others = [build(tok, agent_name, tasks, verdict=verdict, rng_seed=s)[0] for s in (4, 5, 6)]
    assert any([g.h for p in o.prompts for g in p.groups if g.kind == "reset"] != hs for o in others)
    assert all([r.segments for r in o.prompts[0].draws[:4]] == [r.segments for r in a.prompts[0].draws[:4]]
               for o in others)


def test_paired_agents_draw_the_same_first_rollouts_in_graph_mode(tok):
    tasks = [make_task(i) for i in range(3)]
    grpo, _, _ = build(tok, "grpo", tasks)
    rrpo, _, _ = build(tok, "rrpo", tasks)
    for g, r in zip(grpo.prompts, rrpo.prompts):
        assert [x.segments for x in g.draws[:4]] == [x.segments for x in r.draws[:4]]
    # each prompt's call is seeded by the prompt, not by its place in one call
    assert len({tuple(map(tuple, p.draws[0].segments)) for p in rrpo.prompts}) == 3
    assert prompt_seed(7, 0) != prompt_seed(7, 1) and prompt_seed(None, 0) is None


def test_graph_buffer_follows_the_buffer_rules_and_its_metrics_add_up(tok):
    tasks = [make_task(i) for i in range(3)]
    buf, engine, backend = build(tok, "rrpo", tasks, verdict=wrong_for(1))
    for p in buf.prompts:
        trained = [r for g in p.groups for r in g.rollouts]
        assert len(trained) == 8 and len(p.groups) == 2
        assert all(r.outcome is not None for r in p.draws)
    assert [g.kind for g in buf.prompts[1].groups] == ["base", "reset"]
    row = step_metrics(1, buf, NO_UPDATE, dict(buf.times.seconds))
    assert row["tokens_generated"] == (row["tokens_trained"] + row["tokens_seed_search"]
                                       + row["tokens_localization"] + row.get("tokens_aborted", 0))
    assert row["gen_calls"] == backend.stats["calls"] and row["gen_calls"] >= 3 * 2
    # every row of every prompt was in the engine together at the start: 3 prompts x 4 first draws
    assert backend.stats["peak_in_flight"] >= 12 and engine.max_in_flight >= 12
    # the build's wall time is its own figure; at every moment some prompt is in a phase (but for
    # the few statements between phases), so the phases' seconds cover it
    phases = row["time_generate_s"] + row["time_verify_s"] + row["time_localize_s"]
    assert 0 < row["time_build_s"] <= phases + 0.25


def test_graph_mode_needs_a_backend_that_serves_concurrent_calls():
    from scripted_policy import PlannedPolicy, ScriptedBackend

    backend = ScriptedBackend(byte_tokenizer(), PlannedPolicy({}))
    with pytest.raises(ValueError, match="backend.vllm.engine=async, or sampling.batching=step"):
        Roller(backend, RULES, batching="graph")


def test_per_prompt_keeps_task_order_and_reraises():
    assert per_prompt(["a", "b", "c"], lambda i, t: (i, t)) == [(0, "a"), (1, "b"), (2, "c")]

    def boom(i, t):
        if i == 1:
            raise KeyError("prompt 1")
        return i

    with pytest.raises(KeyError, match="prompt 1"):
        per_prompt(["a", "b", "c"], boom)


def test_phase_times_count_overlapping_intervals_once_and_pickle():
    times = PhaseTimes()

    def work():
        with times.phase("generate"):
            time.sleep(0.2)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0.19 <= times.get("generate") < 0.5  # three overlapping 0.2 s blocks: ~0.2 s, not 0.6
    with times.phase("verify"):
        time.sleep(0.01)
    with times.phase("verify"):
        time.sleep(0.01)
    assert times.get("verify") >= 0.02  # sequential blocks add up
    times.add("verify_busy", 1.5)
    copy = pickle.loads(pickle.dumps(times))
    assert copy.get("verify_busy") == 1.5 and copy.get("generate") == times.get("generate")
    with copy.phase("train"):
        pass
    assert "train" in copy.seconds
