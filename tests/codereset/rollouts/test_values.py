"""Monte-Carlo values on a scripted value curve: the estimates, VinePPO's per-thought and per-token
advantages, and the MC oracle's first error."""

import pytest
from scripted_policy import STOP, MarkerVerifier, ScriptedBackend, byte_tokenizer, make_task, split_prefix

from codereset.rollouts.rollout import Roller, Rollout
from codereset.rollouts.values import mc_first_error, mc_values, thought_advantages, token_advantages
from envs.rules import ThoughtRules

RULES = ThoughtRules()
K = 8


class ValueCurvePolicy:
    """Continuations of a state that keeps m of the seed's thoughts succeed for sample indices
    j < wins[m] of the call that wrote their first thought: V(m seed thoughts) = wins[m] / K.

    A continuation writes "cont<j>", then "filler" until it has two thoughts, then the answer
    (RIGHT iff its first continuation thought's j < wins[m])."""

    def __init__(self, wins):
        self.wins = wins

    def __call__(self, text, j):
        _, thoughts = split_prefix(text)
        conts = [t for t in thoughts if t.startswith("cont")]
        seed_kept = len([t for t in thoughts if t.startswith("seed")])
        if not conts:
            return f"cont{j}" + STOP
        if len(thoughts) < 2:
            return "filler" + STOP
        ok = int(conts[0][4:-len(STOP)]) < self.wins[seed_kept]
        return f"```python\nANSWER = '{'RIGHT' if ok else 'WRONG'}'\n```" + STOP


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def seed_rollout(roller, task, tok, texts, verifier):
    segs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    seed = Rollout(task=task, prompt_ids=roller.prompt_ids(task), segments=segs, texts=list(texts),
                   status="terminated", stop=STOP, eos_id=roller.eos_id)
    roller.score(verifier, [seed])
    return seed


SEED = ["seedA" + STOP, "seedB" + STOP, "```python\nANSWER = 'WRONG'\n```" + STOP]


def setup(tok, wins):
    backend = ScriptedBackend(tok, ValueCurvePolicy(wins))
    roller, verifier = Roller(backend, RULES), MarkerVerifier()
    return backend, roller, verifier


def test_values_follow_the_scripted_curve_and_end_at_the_reward(tok):
    backend, roller, verifier = setup(tok, [6, 4, 0])
    seed = seed_rollout(roller, make_task(0), tok, SEED, verifier)
    result = mc_values([seed], roller, verifier, K)
    (v,) = result.per_rollout
    assert v.values == [0.75, 0.5, 0.0, 0.0]           # V_0, V_1, V_2 from 8 samples, V_3 = reward
    assert v.samples == [K, K, K] and result.continuations == 3 * K
    # one batched first call: the three states with K samples each
    first = backend.calls[0]
    assert first["n"] == K and len(first["prefixes"]) == 3
    assert [len(p) for p in first["prefixes"]] == [len(seed.prompt_ids) + sum(len(s) for s in seed.segments[:i])
                                                   for i in range(3)]
    assert result.tokens == v.tokens > 0


def test_a_state_shared_by_two_rollouts_is_estimated_once(tok):
    backend, roller, verifier = setup(tok, [6, 4, 0])
    task = make_task(0)
    a = seed_rollout(roller, task, tok, SEED, verifier)
    b = seed_rollout(roller, task, tok, ["seedA" + STOP, "seedC" + STOP, SEED[2]], verifier)
    result = mc_values([a, b], roller, verifier, K)
    va, vb = result.per_rollout
    assert va.values[:2] == vb.values[:2] == [0.75, 0.5]  # empty prefix and "seedA" are shared
    assert vb.samples == [0, 0, K] and result.continuations == 4 * K
    assert result.tokens == va.tokens + vb.tokens


def test_vineppo_advantages_telescope_and_cover_each_thoughts_tokens(tok):
    assert thought_advantages([0.75, 0.5, 0.0, 0.0]) == [-0.25, -0.5, 0.0]
    assert sum(thought_advantages([0.25, 0.5, 1.0])) == pytest.approx(1.0 - 0.25)
    backend, roller, verifier = setup(tok, [6, 4, 0])
    seed = seed_rollout(roller, make_task(0), tok, SEED, verifier)
    seed.finish = "eos"  # the policy sampled EOS after the last thought: it gets the last advantage
    adv = token_advantages(seed, [-0.25, -0.5, 0.125])
    lens = [len(s) for s in seed.segments]
    assert adv == [-0.25] * lens[0] + [-0.5] * lens[1] + [0.125] * (lens[2] + 1)
    assert len(adv) == seed.generated_tokens
    reset = seed.reset_state(2)  # a reset rollout: only generated thoughts get values
    reset.segments.append(list(seed.segments[1]))
    reset.texts.append(seed.texts[1])
    assert token_advantages(reset, [9.0, 0.5]) == [0.5] * lens[1]
    with pytest.raises(ValueError, match="thought advantages"):
        token_advantages(seed, [0.0])


def test_mc_oracle_first_drop_beyond_the_threshold(tok):
    assert mc_first_error([0.75, 0.5, 0.0, 0.0], 0.25) == 1  # 0.75 -> 0.5 is not more than 0.25
    assert mc_first_error([0.75, 0.5, 0.0, 0.0], 0.2) == 0
    assert mc_first_error([0.5, 0.5, 0.625, 0.0], 0.5) == 2  # a drop to the final reward counts
    assert mc_first_error([0.0, 0.0, 0.0], 0.25) is None     # never reachable: no drop
    with pytest.raises(ValueError, match="threshold"):
        mc_first_error([1.0, 0.0], 1.0)
    backend, roller, verifier = setup(tok, [8, 8, 1])
    seed = seed_rollout(roller, make_task(0), tok, SEED, verifier)
    (v,) = mc_values([seed], roller, verifier, K).per_rollout
    assert v.values == [1.0, 1.0, 0.125, 0.0] and mc_first_error(v.values, 0.25) == 1


def test_bad_input_is_refused(tok):
    backend, roller, verifier = setup(tok, [1, 1, 1])
    seed = seed_rollout(roller, make_task(0), tok, SEED, verifier)
    with pytest.raises(ValueError, match="k >= 1"):
        mc_values([seed], roller, verifier, 0)
    seed.outcome = None
    with pytest.raises(ValueError, match="scored rollouts"):
        mc_values([seed], roller, verifier, 2)


def test_reset_diagnostics_against_the_mc_first_error(tok):
    from codereset.agents.base import ResetChoice
    from codereset.rollouts.buffer import Group, PromptBuffer
    from codereset.config import ValuesConfig
    from codereset.rollouts.values import record_mc_diagnostics

    backend, roller, verifier = setup(tok, [6, 4, 0])               # MC first error: thought 2
    task = make_task(0)
    seed = seed_rollout(roller, task, tok, SEED, verifier)
    flat = seed_rollout(roller, task, tok, ["seedX" + STOP], verifier)
    groups = [Group("reset", [], seed=seed, choice=ResetChoice(h=3)),
              Group("reset", [], seed=seed, choice=ResetChoice(h=1)), Group("base", [])]
    p = PromptBuffer(task, [], 0, groups=groups)
    q = PromptBuffer(task, [], 0, groups=[Group("reset", [], seed=flat, choice=ResetChoice(h=1))])
    record_mc_diagnostics([p, q], roller, verifier, ValuesConfig(k=K, drop_threshold=0.25))
    assert [(g.mc_judged, g.mc_h_oracle) for g in p.groups] == [(True, 2), (True, 2), (False, None)]
    # a one-thought seed: V_0 = 0.75 then its reward 0, a drop at thought 1
    assert [(g.mc_judged, g.mc_h_oracle) for g in q.groups] == [(True, 1)]
    assert p.diagnostics == {} and q.diagnostics == {}   # the metrics row derives the mc_* keys
    assert p.extra_tokens["mc"] > 0 and q.extra_tokens == {"mc": 0}  # q's empty prefix was p's
