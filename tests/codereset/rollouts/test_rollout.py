"""Thought-by-thought rollouts: batching, token-exact prefixes and resets, episode ends, and the
prefix mask at the exact token boundary."""

import pytest
from scripted_policy import STOP, MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

from codereset.generation.base import Completion
from codereset.learn.logprobs import collate
from codereset.rollouts.rollout import Roller, Rollout, thought_texts
from envs.rules import ThoughtRules


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def make_roller(tok, policy, rules=ThoughtRules()):
    backend = ScriptedBackend(tok, policy)
    return Roller(backend, rules, temperature=0.7, top_p=0.95), backend


def test_rounds_are_batched_across_prompts_and_prefixes_are_token_exact(tok):
    roller, backend = make_roller(tok, PlannedPolicy({"Problem number 0: solve it.": "RWR"}))
    tasks = [make_task(0), make_task(1)]
    groups = roller.run([roller.fresh(t) for t in tasks], 3)
    assert [len(g) for g in groups] == [3, 3]
    # round 1: one call, one prefix per task, n=3; rounds 2 and 3: one call over all 6 rollouts
    assert [(len(c["prefixes"]), c["n"]) for c in backend.calls] == [(2, 3), (6, 1), (6, 1)]
    assert all(c["stop"] == (STOP,) for c in backend.calls)
    assert backend.calls[0]["sampling"].max_new_tokens == ThoughtRules().max_thought_tokens
    rollouts = [r for g in groups for r in g]
    for r in rollouts:
        assert r.n_thoughts == 3 and r.status == "terminated" and r.finish == "stop"
    # the prefix of round k of a rollout is the prompt ids + its first k-1 thoughts' ids, exactly
    for rnd in (1, 2):
        for r, prefix in zip(rollouts, backend.calls[rnd]["prefixes"]):
            expected = list(r.prompt_ids)
            for seg in r.segments[:rnd]:
                expected += seg
            assert prefix == expected
    roller.score(MarkerVerifier(), rollouts)
    assert [r.correct for r in groups[0]] == [True, False, True]


def test_reset_keeps_the_stored_token_ids_never_retokenized(tok):
    # "<|im_end|>" written as 10 byte tokens decodes to text that would re-tokenize to ONE id
    odd = tok("<|im_end|>", add_special_tokens=False, split_special_tokens=True)["input_ids"]
    assert len(odd) == 10 and tok("<|im_end|>", add_special_tokens=False)["input_ids"] == [tok.eos_token_id]
    first = Completion(odd + tok("x" + STOP, add_special_tokens=False)["input_ids"],
                       tok.decode(odd) + "x" + STOP, "stop")

    def policy(text, j):
        return first if text.endswith("<|im_start|>assistant\n") else ("```python\nA=1\n```" + STOP)

    roller, backend = make_roller(tok, policy)
    seed = roller.run([roller.fresh(make_task(0))], 1)[0][0]
    assert seed.n_thoughts == 2
    start = seed.reset_state(2)
    assert start.prefix_len == 1 and start.segments == [first.token_ids]
    before = len(backend.calls)
    child = roller.run([start], 2)[0]
    assert backend.calls[before]["prefixes"] == [seed.prompt_ids + first.token_ids]
    assert all(c.segments[0] == first.token_ids and c.prefix_len == 1 for c in child)


def test_prefix_mask_starts_exactly_at_the_first_suffix_token(tok):
    roller, _ = make_roller(tok, PlannedPolicy())
    seed = roller.run([roller.fresh(make_task(0))], 1)[0][0]
    child = roller.run([seed.reset_state(3)], 1)[0][0]   # keeps thoughts 1-2, redraws thought 3
    boundary = len(child.prompt_ids) + len(seed.segments[0]) + len(seed.segments[1])
    assert child.trained_from == boundary
    assert child.prefix_tokens == len(seed.segments[0]) + len(seed.segments[1])
    assert child.generated_tokens == len(child.segments[2])
    batch = collate([child.sequence(), seed.sequence()], [child.trained_from, seed.trained_from], 0)
    row = batch.loss_mask[0].tolist()
    assert row[boundary - 1] == 0.0 and row[boundary] == 1.0
    assert sum(row) == child.generated_tokens
    assert batch.loss_mask[1].tolist().index(1.0) == len(seed.prompt_ids)


def test_reset_index_out_of_range_is_rejected(tok):
    roller, _ = make_roller(tok, PlannedPolicy())
    seed = roller.run([roller.fresh(make_task(0))], 1)[0][0]
    for h in (0, 4):
        with pytest.raises(ValueError, match="out of range 1..3"):
            seed.reset_state(h)


def test_eos_terminates_and_the_sampled_eos_is_trained(tok):
    roller, _ = make_roller(tok, lambda text, j: ("I am done", "eos"))
    r = roller.run([roller.fresh(make_task(0))], 1)[0][0]
    assert r.status == "terminated" and r.n_thoughts == 1
    assert r.sequence()[-1] == tok.eos_token_id
    assert r.generated_tokens == len(r.segments[0]) + 1


def test_an_open_thought_truncates_and_the_thought_budget_truncates(tok):
    roller, _ = make_roller(tok, lambda text, j: ("rambling without end", "length"))
    assert roller.run([roller.fresh(make_task(0))], 1)[0][0].status == "truncated"
    rules = ThoughtRules(max_thoughts=2)
    roller, _ = make_roller(tok, lambda text, j: "more" + STOP, rules)
    r = roller.run([roller.fresh(make_task(0))], 1)[0][0]
    assert (r.status, r.n_thoughts) == ("truncated", 2)


def test_text_after_the_stop_in_the_same_token_moves_to_the_next_thought():
    texts = ["a" + STOP + "\n", "b" + STOP, "c" + STOP + " \n"]
    assert thought_texts(texts, STOP) == ("a" + STOP, "\nb" + STOP, "c" + STOP)
    rules = ThoughtRules()
    for t in thought_texts(texts, STOP):
        rules.check_thought(t)


def test_a_start_state_must_be_unfinished(tok):
    roller, _ = make_roller(tok, PlannedPolicy())
    done = roller.run([roller.fresh(make_task(0))], 1)[0][0]
    with pytest.raises(ValueError, match="unfinished"):
        roller.run([done], 1)
    assert roller.run([roller.fresh(make_task(0))], [0]) == [[]]


def test_unscored_rollout_has_no_reward():
    r = Rollout(task=make_task(0), prompt_ids=[1, 2])
    with pytest.raises(RuntimeError, match="not been scored"):
        _ = r.reward


def branching_policy(text, j):
    """Deterministic in the prefix (the sample index matters for the first thought only):
    plan 0: three thoughts then the answer; plan 1: answer at thought 2; plan 2: EOS after
    thought 2; plan 3: an over-long second thought; plan 4: thoughts forever (thought budget)."""
    from scripted_policy import split_prefix

    _, thoughts = split_prefix(text)
    if not thoughts:
        return f"plan {j}" + STOP
    plan = int(thoughts[0][5])
    k = len(thoughts)
    if plan == 1 or (plan == 0 and k == 3):
        return "\n```python\nANSWER = 'RIGHT'\n```" + STOP
    if plan == 2 and k == 2:
        return ("", "eos")
    if plan == 3:
        return "y" * 60 + STOP
    return f"\nthought {k + 1}" + STOP


@pytest.mark.parametrize("prefix_h", [None, 2])
def test_continuous_mode_gives_the_same_rollouts_as_per_thought(tok, prefix_h):
    rules = ThoughtRules(max_thoughts=5, max_thought_tokens=40)
    results = {}
    for mode in ("per_thought", "continuous"):
        backend = ScriptedBackend(tok, branching_policy)
        roller = Roller(backend, rules, mode=mode)
        start = roller.fresh(make_task(0))
        if prefix_h is not None:   # continue from a reset state of a plan-4 rollout
            seed = roller.run([start], 5)[0][4]
            start = seed.reset_state(prefix_h)
        results[mode] = (roller.run([start], 5)[0], backend.calls)
    per, cont = results["per_thought"][0], results["continuous"][0]
    for a, b in zip(per, cont, strict=True):
        assert (a.segments, a.texts, a.status, a.finish, a.prefix_len) == (b.segments, b.texts, b.status,
                                                                           b.finish, b.prefix_len)
    if prefix_h is None:
        assert [r.status for r in per] == ["terminated", "terminated", "terminated", "truncated", "truncated"]
        assert [r.n_thoughts for r in per] == [4, 2, 3, 2, 5]
        assert per[2].segments[-1] == [] and per[2].finish == "eos"
        assert per[3].finish == "length" and len(per[3].segments[1]) == 40
    # continuous: one call for the whole group (no stop string, the rollout's whole budget)
    last_call = results["continuous"][1][-1]
    assert last_call["stop"] == () and last_call["n"] == 5
    budget_thoughts = 5 - (0 if prefix_h is None else prefix_h - 1)
    assert last_call["sampling"].max_new_tokens == budget_thoughts * 40


def test_unknown_rollout_mode_lists_known(tok):
    with pytest.raises(ValueError, match=r"known: \['continuous', 'per_thought'\]"):
        Roller(ScriptedBackend(tok, branching_policy), ThoughtRules(), mode="beam")


def test_a_rollout_is_a_token_carrying_env_state_and_its_reset_is_the_transitions(tok):
    """Rollout.state() is a ThoughtState the env can enter (token ids included), and
    reset_state(h) keeps exactly envs.transition.reset_to_prefix's thoughts and ids."""
    from envs import transition
    from envs.thought_env import ThoughtMDPEnv

    roller, _ = make_roller(tok, PlannedPolicy({"Problem number 0: solve it.": "W"}))
    task = make_task(0)
    (seed,) = roller.run([roller.fresh(task)], 1)[0]
    state = seed.state()
    assert state.thoughts == seed.thoughts and state.finish == seed.finish == "stop"
    assert state.token_ids == tuple(tuple(s) for s in seed.segments)
    assert transition.state_status(roller.rules, task.kind, state) == seed.status == "terminated"
    prefix = transition.reset_to_prefix(state, 3)
    start = seed.reset_state(3)
    assert start.state() == prefix and start.prefix_ids() == seed.prompt_ids + seed.segments[0] + seed.segments[1]
    env = ThoughtMDPEnv(kind="code", tasks=[task], rules=roller.rules, sandbox=None)
    env.reset_to(prefix)
    assert env.get_state() == prefix
    env.close()
