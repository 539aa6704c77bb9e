"""`codereset.run.schema`: checks catch missing and undeclared keys; the writers' rows match it.

The end-to-end half (every row a real run writes has exactly the declared keys) is in
tests/codereset/test_replay.py, which trains the tiny model once per suite kind.
"""

import pytest

from codereset.run.schema import EVAL, EVAL_SAMPLE, METRICS, ROLLOUT, SAMPLE_GROUP, Key, RowSchema, SchemaError

TOY = RowSchema("toy.jsonl", conditions={"extra": "sometimes"},
                keys=(Key("a", "always"), Key("b", "extra only", when="extra"),
                      Key("c", "may be absent", when="extra", optional=True)))


def test_check_accepts_exactly_the_declared_keys():
    assert TOY.check({"a": 1}) == {"a": 1}
    assert TOY.check({"a": 1, "b": 2}, {"extra"}) == {"a": 1, "b": 2}
    assert TOY.check({"a": 1, "b": 2, "c": 3}, {"extra"})
    assert TOY.names({"extra"}) == ("a", "b", "c") and TOY.names({"extra"}, required=True) == ("a", "b")
    assert TOY.of("extra") == ("b", "c") and TOY.of("always") == ("a",)


@pytest.mark.parametrize("row,when,words", [
    ({}, (), "missing ['a']"),
    ({"a": 1, "b": 2}, (), "undeclared ['b']"),
    ({"a": 1}, {"extra"}, "missing ['b']"),
    ({"a": 1, "z": 0}, (), "undeclared ['z']"),
])
def test_check_names_what_is_wrong(row, when, words):
    with pytest.raises(SchemaError, match=__import__("re").escape(words)):
        TOY.check(row, when)


def test_bad_schemas_and_conditions_raise():
    with pytest.raises(SchemaError, match="declared twice"):
        RowSchema("x", keys=(Key("a", ""), Key("a", "")))
    with pytest.raises(SchemaError, match="undeclared conditions"):
        RowSchema("x", keys=(Key("a", "", when="nope"),))
    with pytest.raises(SchemaError, match="unknown conditions"):
        TOY.check({"a": 1}, {"nope"})
    with pytest.raises(SchemaError, match="declares no key"):
        TOY.doc("zz")


def test_every_key_is_documented():
    for schema in (METRICS, ROLLOUT, SAMPLE_GROUP, EVAL, EVAL_SAMPLE):
        for key in schema.keys:
            assert key.doc.strip(), (schema.file, key.name)


def test_metrics_schema_holds_the_method_md_quantities():
    """method.md "What to log": base pass rate, validation, tokens by kind, reset depth, signal,
    correction rate, parse failures, per-phase times, and the oracle's localization quality."""
    assert {"pass_rate", "tokens_trained", "tokens_seed_search", "tokens_localization",
            "tokens_prefix_reused", "reset_depth", "reset_groups_with_signal", "correction_rate",
            "localization_parse_failures", "time_generate_s", "time_verify_s", "time_localize_s",
            "time_train_s"} <= set(METRICS.names())
    assert METRICS.of("validation") == ("val_pass_rate",)
    assert {"localization_deviation", "correction_rate_clean", "correction_rate_erroneous",
            "suffix_pass_at_4_clean", "suffix_pass_at_4_erroneous"} <= set(METRICS.of("oracle"))
    assert "time_checkpoint_s" not in METRICS.names({"oracle", "validation", "agent"})
