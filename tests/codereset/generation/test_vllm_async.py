"""The async vLLM engine (`backend.vllm.engine=async`) on a real engine, against the blocking one.

Marked `vllm` (skipped by the default run; `.ci/run` runs them):
`python -m pytest -m vllm tests/codereset/generation/test_vllm_async.py -q`. The default model in
float32; the blocking engine runs first (its rollouts are the reference) and is shut down before
the async engine starts, so one engine runs at a time (two starts: ~1-3 min on a 2-core CPU).
"""

from __future__ import annotations

import threading

import pytest
import torch

from codereset.generation import Sampling, make_backend
from codereset.generation.agent_loop import Aborted
from codereset.generation.base import EpisodeEnd
from codereset.learn.logprobs import token_logprobs
from codereset.models import ModelConfig, load_model
from codereset.rollouts.rollout import Roller
from envs.rules import ThoughtRules

RULES = ThoughtRules(max_thoughts=3, max_thought_tokens=48)
LOGPROB_TOL = 1e-3


def _rollouts(backend, tasks):
    """Greedy rollouts of `tasks`, then 2 greedy continuations of every reset state of each."""
    roller = Roller(backend, RULES, temperature=0.0, top_p=1.0, mode="continuous")
    seeds = [g[0] for g in roller.run([roller.fresh(t) for t in tasks], 1)]
    starts = [s.reset_state(h) for s in seeds for h in range(1, s.n_thoughts + 1)]
    resets = roller.run(starts, 2)
    return seeds, starts, resets


@pytest.fixture(scope="module")
def engines():
    pytest.importorskip("vllm")
    from envs.tasks import load_suite

    model, tok = load_model(ModelConfig())
    tasks = load_suite("basic", split="train")[:3]
    with make_backend("vllm", model, tok, {"dtype": "float32"}) as sync:
        reference = _rollouts(sync, tasks)
    backend = make_backend("vllm", model, tok, {"dtype": "float32", "engine": "async"})
    yield model, tok, tasks, reference, backend
    backend.close()


@pytest.mark.vllm
def test_greedy_rollouts_match_the_blocking_engine_resets_included(engines):
    model, tok, tasks, (ref_seeds, ref_starts, ref_resets), backend = engines
    assert type(backend).__name__ == "AsyncVLLMBackend"
    seeds, starts, resets = _rollouts(backend, tasks)
    assert [s.segments for s in seeds] == [s.segments for s in ref_seeds]
    assert any(s.n_thoughts > 1 for s in seeds)  # resets with a non-empty prefix were compared
    assert [s.prefix_ids() for s in starts] == [s.prefix_ids() for s in ref_starts]
    assert [[r.segments for r in g] for g in resets] == [[r.segments for r in g] for g in ref_resets]
    assert [[(r.status, r.finish) for r in g] for g in resets] == [[(r.status, r.finish) for r in g] for g in ref_resets]


@pytest.mark.vllm
def test_a_reset_groups_prefix_is_served_from_the_prefix_cache(engines):
    model, tok, tasks, _, backend = engines
    roller = Roller(backend, RULES, temperature=0.7, mode="continuous")
    seed = max((g[0] for g in roller.run([roller.fresh(t) for t in tasks], 1)), key=lambda r: r.n_thoughts)
    assert seed.n_thoughts > 1
    start = seed.reset_state(seed.n_thoughts)  # prompt + every thought but the last: computed for the seed
    roller.run([start], 4)
    length = len(start.prefix_ids())
    block = backend.cfg.block_size
    first_thoughts = [(n, cached) for n, cached in backend.last_requests if n == length]
    assert len(first_thoughts) == 4
    assert all(cached == block * ((length - 1) // block) for _, cached in first_thoughts)


@pytest.mark.vllm
def test_seeded_calls_repeat_and_other_seeds_differ(engines):
    model, tok, tasks, _, backend = engines
    roller = Roller(backend, RULES, temperature=0.7, mode="continuous")
    runs = [[[r.segments for r in g] for g in roller.seeded(s).run([roller.fresh(t) for t in tasks], 2)]
            for s in (5, 5, 6)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


@pytest.mark.vllm
def test_aborted_rows_leave_the_engine_and_are_counted(engines):
    model, tok, tasks, _, backend = engines
    prompt = Roller(backend, RULES).prompt_ids(tasks[0])
    first_done = threading.Event()
    watch = EpisodeEnd(RULES.stop, RULES.max_thought_tokens, lambda p, ids: False)
    before = dict(backend.stats)
    out = backend.generate_streaming([prompt], 4, Sampling(max_new_tokens=400, seed=1), (),
                                     lambda p, j, c: first_done.set(), max_new=[400], episode_end=watch,
                                     abort=lambda p, j: first_done.is_set())
    aborted = [c for c in out[0] if isinstance(c, Aborted)]
    assert aborted and backend.stats["aborted_rows"] - before["aborted_rows"] == len(aborted)
    assert backend.stats["aborted_tokens"] - before["aborted_tokens"] == sum(len(a.token_ids) for a in aborted)
    assert backend.engine.get_num_unfinished_requests() == 0


@pytest.mark.vllm
def test_in_place_weight_sync_reaches_the_async_engine(engines):
    model, tok, tasks, _, backend = engines
    prefix = tok("def add(a, b):\n    return a + b\n\nThe function above", add_special_tokens=False)["input_ids"]
    cont = tok(" adds two numbers.", add_special_tokens=False)["input_ids"]

    def trainer_lp():
        ids = torch.tensor([prefix + cont])
        with torch.no_grad():
            return token_logprobs(model, ids, torch.ones_like(ids))[0, len(prefix):].tolist()

    before = backend.continuation_logprobs(prefix, cont)
    assert max(abs(a - b) for a, b in zip(before, trainer_lp())) < LOGPROB_TOL
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(1.05)  # tied head and embedding: both move
    backend.sync_weights(model)
    after = backend.continuation_logprobs(prefix, cont)
    assert max(abs(a - b) for a, b in zip(after, trainer_lp())) < LOGPROB_TOL
    assert max(abs(a - b) for a, b in zip(after, before)) > 20 * LOGPROB_TOL
    assert backend.stats["last_sync_s"] > 0 and backend.stats["weight_syncs"] == 1
