"""The per-prompt buffer with a scripted policy: seed search, reset groups, splits, fallback,
and the step's metrics row computed from it."""

import pytest
from scripted_policy import FixedAgentRng, MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

from codereset.agents import AgentContext, make_agent
from codereset.rollouts.buffer import BufferBuilder, Split
from codereset.config import AgentConfig, BufferConfig
from codereset.run.metrics import sample_rows, step_metrics
from codereset.rollouts.rollout import Roller
from codereset.learn.update import UpdateResult, assign_advantages
from envs.rules import ThoughtRules

P = "Problem number {}: solve it."
NO_UPDATE = UpdateResult(0.0, 0.0, False, 0, 0, 0)


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def build(tok, plan, agent="rrpo", h=2, n_tasks=1, batching="step", seed=None, **buffer_kw):
    policy = PlannedPolicy({P.format(i): v for i, v in plan.items()})
    backend = ScriptedBackend(tok, policy)
    rules = ThoughtRules()
    cfg = AgentConfig(name=agent)
    agent_obj = make_agent(agent, cfg, AgentContext(backend, rules, FixedAgentRng(h)))
    roller = Roller(backend, rules, batching=batching)
    builder = BufferBuilder(BufferConfig(**buffer_kw), agent_obj, roller, MarkerVerifier())
    buf = builder.build([make_task(i) for i in range(n_tasks)], seed=seed)
    return buf, backend, policy


def test_1x4_seed_is_the_first_failure_and_the_reset_group_continues_its_prefix(tok):
    buf, backend, policy = build(tok, {0: "RWRW" + "RWWW"}, h=2)
    p = buf.prompts[0]
    assert len(p.draws) == 4                       # the base group held a failure: no search
    assert p.seeds == [p.draws[1]]
    kinds = [g.kind for g in p.groups]
    assert kinds == ["base", "reset"]
    base, reset = p.groups
    assert base.rewards == [1.0, 0.0, 1.0, 0.0]
    assert reset.h == 2 and reset.rewards == [1.0, 0.0, 0.0, 0.0]
    seed = p.seeds[0]
    for r in reset.rollouts:                       # token-exact: thought 1 is the seed's ids
        assert r.prefix_len == 1 and r.segments[0] == seed.segments[0]
        assert r.prompt_ids == seed.prompt_ids
    reset_call = [c for c in backend.calls if c["n"] == 4][-1]
    assert reset_call["prefixes"] == [seed.prompt_ids + seed.segments[0]]
    assert policy.popped[P.format(0)] == list("RWRWRWWW")


@pytest.mark.parametrize("batching", ["step", "per_round"])
def test_seed_search_draws_in_batches_until_a_failure(tok, batching):
    buf, _, _ = build(tok, {0: "RRRR" + "RRRR" + "RWRR" + "WWWW"}, h=1, batching=batching)
    p = buf.prompts[0]
    assert len(p.draws) == 12                      # 4 base + 8 at once, or 2 search rounds of 4
    assert p.seeds == [p.draws[9]]                 # the first failure in draw order
    assert len(p.untrained_draws()) == 8           # search draws are not trained
    assert p.groups[1].h == 1 and p.groups[1].rollouts[0].prefix_len == 0


def test_seed_search_is_bounded_by_max_attempts(tok):
    buf, _, _ = build(tok, {0: "R" * 20}, max_attempts=6, h=1)
    p = buf.prompts[0]
    assert len(p.draws) == 6 and p.seeds == []
    # fallback: the 2 untrained draws are reused, 2 more fresh rollouts are drawn
    fallback = p.groups[1]
    assert fallback.kind == "fallback" and len(fallback.rollouts) == 4
    assert fallback.rollouts[:2] == p.draws[4:6]
    assert p.untrained_draws() == []


@pytest.mark.parametrize("batching", ["step", "per_round"])
def test_no_seed_in_12_attempts_fills_the_slots_with_search_draws(tok, batching):
    buf, backend, _ = build(tok, {0: "R" * 12}, batching=batching)
    p = buf.prompts[0]
    assert len(p.draws) == 12 and p.seeds == []
    assert [g.kind for g in p.groups] == ["base", "fallback"]
    assert p.groups[1].rollouts == p.draws[4:8]
    assert all(r.kind == "fallback" for r in p.groups[1].rollouts)
    assert len(p.untrained_draws()) == 4
    firsts = [c["n"] for c in backend.calls if c["n"] > 1]  # later thoughts are drawn one per call
    assert firsts == ([4, 4, 4] if batching == "per_round"  # base + 2 search rounds; nothing more
                      else [4, 8])                          # base + one speculative round


def test_2x4_has_no_trained_base_group_two_seeds_two_reset_groups(tok):
    buf, _, _ = build(tok, {0: "WRWR" + "RRRR" + "WWWW"}, split="2x4", h=2)
    p = buf.prompts[0]
    assert p.first == 4 and len(p.draws) == 4
    assert p.seeds == [p.draws[0], p.draws[2]]
    assert [g.kind for g in p.groups] == ["reset", "reset"]
    assert [g.seed for g in p.groups] == p.seeds
    assert [len(g.rollouts) for g in p.groups] == [4, 4]
    assert len(p.untrained_draws()) == 4           # the probe is not trained


def test_1x8_one_reset_group_of_8(tok):
    buf, _, _ = build(tok, {0: "RRWR" + "R" * 8}, split="1x8", h=2)
    p = buf.prompts[0]
    assert [(g.kind, len(g.rollouts)) for g in p.groups] == [("reset", 8)]
    assert p.seeds == [p.draws[2]]


def test_grpo_draws_all_slots_fresh_in_one_group_without_search(tok):
    buf, backend, _ = build(tok, {0: "R" * 8, 1: "W" * 8}, agent="grpo", n_tasks=2)
    assert [[(g.kind, len(g.rollouts)) for g in p.groups] for p in buf.prompts] == [[("base", 8)]] * 2
    assert all(p.seeds == [] and len(p.draws) == 8 for p in buf.prompts)
    assert backend.calls[0]["n"] == 8 and len(backend.calls[0]["prefixes"]) == 2


def test_prompts_are_batched_in_every_phase(tok):
    buf, backend, _ = build(tok, {0: "RRRW" + "RRRR", 1: "WRRR" + "WWWW"}, n_tasks=2, h=2)
    first = backend.calls[0]
    assert first["n"] == 4 and len(first["prefixes"]) == 2
    reset_call = [c for c in backend.calls if c["n"] == 4][-1]
    assert len(reset_call["prefixes"]) == 2        # both prompts' reset groups in one call


def test_split_parsing_and_slot_check(tok):
    assert Split.parse("2x4") == Split(2, 4)
    for bad in ("4", "0x4", "1x", "axb"):
        with pytest.raises(ValueError, match="<seeds>x<suffixes>"):
            Split.parse(bad)
    with pytest.raises(ValueError, match="raise slots"):
        build(tok, {0: "W"}, split="3x4")


def test_metrics_row_of_a_known_step(tok):
    buf, _, _ = build(tok, {0: "RWRW" + "RWWW", 1: "R" * 12}, n_tasks=2, h=2)
    assign_advantages(buf.groups, "group_norm")
    row = step_metrics(7, buf, NO_UPDATE, {"generate": 1.5, "step": 2.0})
    thought_tokens = [len(s) for s in buf.prompts[0].draws[0].segments]
    assert row["step"] == 7
    assert row["pass_rate"] == 6 / 8               # base groups: RWRW and RRRR
    assert row["seeds_found"] == 1 and row["fallback_groups"] == 1
    # prompt 0's reset group keeps thought 1: its 4 rollouts reuse that prefix
    assert row["tokens_prefix_reused"] == 4 * thought_tokens[0]
    assert row["reset_depths"] == [2 / 3] and row["reset_depth"] == pytest.approx(2 / 3)
    assert row["reset_groups_with_signal"] == 1.0 and row["correction_rate"] == 1.0
    assert row["localization_parse_failures"] == 0 and row["tokens_localization"] == 0
    assert row["tokens_generated"] == row["tokens_trained"] + row["tokens_seed_search"]
    assert row["rollouts_trained"] == 16
    assert row["time_generate_s"] == 1.5 and row["time_localize_s"] == 0.0
    assert "localization_deviation" not in row     # no oracle on these tasks
    samples = sample_rows(7, buf)
    assert [s["group"] for s in samples] == ["base", "reset", "base", "fallback", "seed_search"]
    assert samples[1]["reset_index"] == 2 and samples[1]["rewards"] == [1.0, 0.0, 0.0, 0.0]
    assert samples[1]["advantages"] == pytest.approx([3 ** 0.5, -(3 ** -0.5), -(3 ** -0.5), -(3 ** -0.5)])
    assert len(samples[1]["seed_thoughts"]) == 3


@pytest.mark.parametrize("h_mc, clean", [(1, False), (2, True), (None, True)])
def test_metrics_row_against_the_mc_first_error(tok, h_mc, clean):
    # agent.values.diagnose marks the judged reset groups; the row gets the mc_* keys by the same
    # rule as the exact oracle's (h* = 2 here; clean when h* <= h_mc or no drop found)
    buf, _, _ = build(tok, {0: "RWRW" + "RWWW", 1: "R" * 12}, n_tasks=2, h=2)
    assign_advantages(buf.groups, "group_norm")
    reset = next(g for g in buf.groups if g.kind == "reset")
    reset.mc_judged, reset.mc_h_oracle = True, h_mc
    row = step_metrics(7, buf, NO_UPDATE, {})
    assert row["mc_h_oracle"] == [h_mc]
    assert row["mc_localization_deviations"] == ([] if h_mc is None else [2 - h_mc])
    assert row["mc_reset_groups_clean"] == int(clean) and row["mc_reset_groups_erroneous"] == int(not clean)
    corrected, missing = ("mc_correction_rate_clean", "mc_correction_rate_erroneous")[::1 if clean else -1]
    assert row[corrected] == 1.0 and row[missing] is None  # one of 4 suffixes is correct
    assert row[f"mc_suffix_pass_at_4_{'clean' if clean else 'erroneous'}"] == 1.0
    assert "localization_deviation" not in row     # still no exact oracle
    samples = sample_rows(7, buf)
    assert samples[1]["mc_h_oracle"] == h_mc and "mc_h_oracle" not in samples[0]


def _search_view(p):
    """What the seed search decided for one prompt: seeds by draw index, trained group shapes."""
    index = {id(r): i for i, r in enumerate(p.draws)}
    return [index[id(s)] for s in p.seeds], [(g.kind, len(g.rollouts)) for g in p.groups]


@pytest.mark.parametrize("split", ["1x4", "2x4"])
def test_batched_seed_search_picks_the_same_seeds_as_the_sequential_one(tok, split):
    """The policy's verdicts come in draw order per prompt, so a draw's outcome is fixed by its
    position: the speculative search (all remaining attempts at once) and the sequential one
    (search_batch=1) must then choose the same seeds (first failures in draw order, at most
    max_attempts draws). Equal seeds for every outcome sequence means equal seed and reset
    distributions for i.i.d. draws."""
    import random

    rng = random.Random(5)
    plans = [{i: "".join(rng.choice("RRRW" if i % 2 else "RRRRRRRW") for _ in range(40)) for i in range(3)}
             for _ in range(25)]
    plans.append({0: "R" * 40, 1: "RRRR" + "R" * 7 + "W", 2: "WRRR"})
    for plan in plans:
        seq, _, _ = build(tok, plan, n_tasks=3, batching="per_round", search_batch=1, split=split, h=1)
        fast, backend, _ = build(tok, plan, n_tasks=3, batching="step", split=split, h=1)
        for a, b in zip(seq.prompts, fast.prompts):
            assert _search_view(a) == _search_view(b), plan
            assert len(a.draws) <= len(b.draws) <= 12     # speculation draws more, never past max_attempts
        searching = [p for p in fast.prompts if len(p.draws) > 4]
        if searching:  # one speculative call, all prompts short of seeds in it
            calls = [c for c in backend.calls if c["n"] == 8]  # every such prompt has 8 attempts left
            assert len(calls) == 1 and len(calls[0]["prefixes"]) == len(searching)


def test_seeded_build_draws_the_paired_first_rollouts_in_one_seeded_call(tok):
    _, backend, _ = build(tok, {0: "RWRW" + "RWWW"}, agent="grpo", seed=7)
    firsts = [c for c in backend.calls if c["n"] > 1]
    assert [(c["n"], c["sampling"].seed) for c in firsts] == [(4, 7), (4, None)]  # 4 of GRPO's 8 paired
    _, backend, _ = build(tok, {0: "RWRW" + "RWWW"}, agent="rrpo", seed=7)
    firsts = [c for c in backend.calls if c["n"] > 1]
    assert (firsts[0]["n"], firsts[0]["sampling"].seed) == (4, 7)          # the base group
    assert all(c["sampling"].seed is None for c in firsts[1:])             # the reset group: running stream


def test_seeded_base_groups_are_identical_across_agents_on_a_real_sampler():
    from codereset.generation.hf import HFBackend
    from codereset.models import ModelConfig, load_model
    from scripted_policy import MarkerVerifier

    model, tk = load_model(ModelConfig(name="tiny", device="cpu"))
    rules = ThoughtRules(max_thoughts=2, max_thought_tokens=6)
    tasks = [make_task(i) for i in range(2)]
    firsts = {}
    for agent in ("grpo", "rrpo"):
        backend = HFBackend(model, tk)
        agent_obj = make_agent(agent, AgentConfig(name=agent), AgentContext(backend, rules, FixedAgentRng(1)))
        roller = Roller(backend, rules, mode="continuous")
        buf = BufferBuilder(BufferConfig(), agent_obj, roller, MarkerVerifier(rules)).build(tasks, seed=11)
        firsts[agent] = [[r.segments for r in p.draws[:4]] for p in buf.prompts]
    assert firsts["grpo"] == firsts["rrpo"]


def test_rows_per_call_and_phase_times_add_up(tok):
    import time

    from scripted_policy import PlannedPolicy, ScriptedBackend

    policy = PlannedPolicy({P.format(i): "RWRW" + "RRRR" for i in range(2)})
    backend = ScriptedBackend(tok, policy)
    backend.stats["rows"] = 0
    generate = backend.generate

    def counting(prefixes, n, sampling, stop=()):
        backend.stats["rows"] += len(prefixes) * n
        return generate(prefixes, n, sampling, stop)

    backend.generate = counting
    rules = ThoughtRules()
    agent = make_agent("rrpo", AgentConfig(name="rrpo"), AgentContext(backend, rules, FixedAgentRng(2)))
    builder = BufferBuilder(BufferConfig(), agent, Roller(backend, rules, mode="continuous"), MarkerVerifier())
    start = time.perf_counter()
    buf = builder.build([make_task(i) for i in range(2)])
    wall = time.perf_counter() - start
    assert buf.gen_calls == len(backend.calls) == 2        # base groups, reset groups: one call each
    assert buf.gen_rows == 16 and buf.gen_rows_per_call == 8.0
    assign_advantages(buf.groups, "group_norm")
    row = step_metrics(1, buf, NO_UPDATE, dict(buf.times.seconds, step=wall))
    assert row["gen_calls"] == 2 and row["gen_rows_per_call"] == 8.0
    assert row["tokens_generated"] == row["tokens_trained"] + row["tokens_seed_search"] + row["tokens_localization"]
    phases = sum(row[f"time_{k}_s"] for k in ("generate", "verify", "localize"))
    assert 0 < phases <= wall and row["time_verify_busy_s"] >= 0
    assert all(r.outcome is not None for g in buf.groups for r in g.rollouts)


class WrongIsInfraVerifier(MarkerVerifier):
    """Every wrong answer's verification ends in a sandbox error (on the retry too)."""

    def score_many(self, items):
        from envs.verify import Outcome

        return [o if o.correct else Outcome(0.0, False, "sandbox_error", {}) for o in super().score_many(items)]


def test_a_rollout_the_verifier_could_not_judge_is_never_a_seed(tok):
    policy = PlannedPolicy({P.format(0): "RWRW" + "RRRR" + "RRRR"})
    backend = ScriptedBackend(tok, policy)
    rules = ThoughtRules()
    agent_obj = make_agent("rrpo", AgentConfig(name="rrpo"), AgentContext(backend, rules, FixedAgentRng(1)))
    builder = BufferBuilder(BufferConfig(), agent_obj, Roller(backend, rules), WrongIsInfraVerifier())
    p = builder.build([make_task(0)]).prompts[0]
    assert [r.outcome.status for r in p.draws[:4]] == ["ok", "sandbox_error", "ok", "sandbox_error"]
    assert p.seeds == [] and len(p.draws) == 12           # searched on: no judged failure found
    assert [g.kind for g in p.groups] == ["base", "fallback"]


def test_shaped_rewards_need_one_per_rollout():
    from codereset.rollouts.buffer import Group
    from codereset.rollouts.rollout import Rollout

    rollouts = [Rollout(task=make_task(0), prompt_ids=[1]) for _ in range(2)]
    with pytest.raises(ValueError, match="2 rollouts but 1 shaped rewards"):
        Group("second_attempt", rollouts, shaped_rewards=[1.0])
