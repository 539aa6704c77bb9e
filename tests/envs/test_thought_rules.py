"""ThoughtRules: exact splitting, answer extraction, termination."""

import ast
import random
from pathlib import Path

import pytest

from envs.rules import DEFAULT_STOP, ThoughtRules

RULES = ThoughtRules()
S = RULES.stop


@pytest.mark.parametrize("text", [
    "", "a", f"a{S}", f"a{S}b", f"a{S}b{S}", f"{S}{S}", f"x{S}\n{S}tail", "naïve ∑ 日本" + S,
])
def test_split_join_roundtrip(text):
    thoughts = RULES.split(text)
    assert "".join(thoughts) == text
    assert RULES.split("".join(thoughts)) == thoughts
    assert all(t.endswith(S) for t in thoughts[:-1])


def test_split_random_texts_roundtrip():
    rng = random.Random(0)
    alphabet = ["a", "b", "\n", "<", "/", ">", S, "thought", "é"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        thoughts = RULES.split(text)
        assert "".join(thoughts) == text and RULES.split(text) == thoughts


def test_split_known_answer():
    assert RULES.split(f"plan{S}\ncode") == (f"plan{S}", "\ncode")
    assert RULES.split("") == ()


def test_custom_stop_pattern():
    rules = ThoughtRules(stop="<END>")
    assert rules.split("a<END>b") == ("a<END>", "b")
    assert rules.split(f"a{S}b") == (f"a{S}b",)


def test_extract_code_last_python_block_wins():
    text = ("```python\nx = 1\n```\nthen ```bash\nls\n```\n```Python\nx = 2\n```"
            "\n```\nuntagged\n```")
    assert RULES.extract_answer(text, "code") == "x = 2\n"
    assert RULES.extract_answer("```python\nunclosed", "code") is None
    assert RULES.extract_answer("```\nx = 1\n```", "code") is None
    assert RULES.extract_answer("```py\ny = 3\n```", "code") == "y = 3\n"


def test_extract_boxed_last_wins_and_nested_braces():
    assert RULES.extract_answer(r"\boxed{1} then \boxed{\frac{1}{2}}", "math") == r"\frac{1}{2}"
    assert RULES.extract_answer(r"\boxed{ 42 }", "math") == "42"
    assert RULES.extract_answer(r"\boxed{unclosed", "math") is None
    assert RULES.extract_answer("no answer", "math") is None


def test_unknown_kind_lists_known():
    with pytest.raises(ValueError, match="code.*math"):
        RULES.extract_answer("x", "chess")


def test_check_thought():
    RULES.check_thought(f"one{S}")
    RULES.check_thought("open")
    for bad in ("", f"a{S}b", f"a{S}b{S}", 3):
        with pytest.raises(ValueError):
            RULES.check_thought(bad)


def test_invalid_rules():
    with pytest.raises(ValueError):
        ThoughtRules(stop="")
    with pytest.raises(ValueError):
        ThoughtRules(max_thoughts=0)


def test_adopt_moves_task_data_to_the_rules_stop_pattern():
    ref = (f"a{DEFAULT_STOP}", f"\nb{DEFAULT_STOP}", "open")
    assert ThoughtRules().adopt(ref) == ref
    assert ThoughtRules(stop="<END>").adopt(ref) == ("a<END>", "\nb<END>", "open")


def _string_literals(tree):
    """Every str constant of a module except docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                docs.add(id(node.body[0].value))
    return [n for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_the_stop_pattern_is_written_once():
    """Only envs/rules.py spells the default stop pattern; everything else reads it from there."""
    root = Path(__file__).resolve().parents[2]
    spelled = []
    for package in ("envs", "codereset", "sandboxes"):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(DEFAULT_STOP in n.value for n in _string_literals(tree)):
                spelled.append(str(path.relative_to(root)))
    assert spelled == ["envs/rules.py"]
