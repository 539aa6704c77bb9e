"""File loaders on small fixtures in each dataset's format: parsed fields, references that score
1.0 through the real verifier, and errors that name file, line and field."""

import base64
import json
import pickle
import warnings
import zlib
from pathlib import Path

import pytest

from envs.tasks import load_suite
from envs.tasks.loaders import DataFormatError

FIXTURES = Path(__file__).parent / "fixtures"
S = "</thought>"

CASES = [  # (loader, fixture, expected task ids)
    ("mbpp", "mbpp.jsonl", ["mbpp/901", "mbpp/902", "mbpp/903"]),
    ("mbpp", "mbpp_sanitized.json", ["mbpp/904"]),
    ("apps", "apps.jsonl", ["apps/7001", "apps/7003"]),
    ("code_contests", "code_contests.jsonl", ["code_contests/fixture_1_max_pair"]),
    ("gsm8k", "gsm8k.jsonl", ["gsm8k/1", "gsm8k/2"]),
    ("math", "math.jsonl", ["math/1", "math/test/algebra/fixture.json"]),
    ("jsonl", "tasks.jsonl", ["add", "rev", "echo_sum", "pens", "half"]),
]


def _load(name, fixture, split="test", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_suite(name, split, path=FIXTURES / fixture, **kw)


@pytest.mark.parametrize("name,fixture,ids", CASES)
def test_fixture_references_score_one(name, fixture, ids, verifier):
    tasks = _load(name, fixture)
    assert [t.task_id for t in tasks] == ids
    outcomes = verifier.score_many([(t, t.reference) for t in tasks])
    assert [(o.reward, o.correct) for o in outcomes] == [(1.0, True)] * len(tasks)


def test_wrong_solutions_score_below_one(verifier):
    mbpp = _load("mbpp", "mbpp.jsonl")[0]  # larger(a, b)
    wrong = verifier.score(mbpp, [f"```python\ndef larger(a, b):\n    return a\n```{S}"])
    assert wrong.reward < 1.0 and not wrong.correct
    gsm = _load("gsm8k", "gsm8k.jsonl")[0]
    assert verifier.score(gsm, [rf"\boxed{{17}}{S}"]).reward == 0.0


def test_mbpp_fields():
    t = _load("mbpp", "mbpp.jsonl")[1]
    assert t.tests.entry_point == "hypotenuse"
    assert t.tests.setup == "import math" and "hypotenuse = candidate" in t.tests.test_code
    assert t.problem.endswith("assert math.isclose(hypotenuse(3, 4), 5.0)")


def test_livecodebench_functional_and_stdin(verifier):
    tasks = _load("livecodebench", "livecodebench.jsonl")
    squares, shift, stdin = tasks
    assert squares.reference == () and squares.difficulty == 1 and shift.difficulty == 2
    # Public tests plus the base64+zlib compressed private ones.
    assert squares.tests.cases == ((([1, 2, 3],), 14), (([],), 0), (([-4],), 16))
    assert shift.tests.cases == (((1, 3), 8), ((5, 0), 5))
    assert stdin.tests.cases == (("1 2\n", "3\n"), ("-5 5\n", "0\n"))
    good = ("```python\nclass Solution:\n    def sumOfSquares(self, nums: List[int]) -> int:\n"
            "        return sum(x * x for x in nums)\n```" + S)
    assert verifier.score(squares, [good]).correct
    bad = good.replace("x * x", "x")
    assert verifier.score(squares, [bad]).reward < 1.0
    assert verifier.score(stdin, [f"```python\na, b = map(int, input().split())\nprint(a + b)\n```{S}"]).correct


def test_livecodebench_refuses_pickled_objects(tmp_path):
    row = json.loads((FIXTURES / "livecodebench.jsonl").read_text().splitlines()[0])
    row["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(Path("x")))).decode()
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataFormatError, match="line 1, field 'private_test_cases'"):
        load_suite("livecodebench", "test", path=path)


def test_apps_skips_call_based_with_warning():
    with pytest.warns(UserWarning, match="skipped 1 call-based"):
        tasks = load_suite("apps", "test", path=FIXTURES / "apps.jsonl")
    assert tasks[1].tests.cases[1] == ("zeta alpha\n", "alpha zeta\n")  # list-of-lines form


def test_code_contests_generated_tests_optional():
    base = _load("code_contests", "code_contests.jsonl")[0]
    full = _load("code_contests", "code_contests.jsonl", include_generated=True)[0]
    assert len(base.tests.cases) == 3 and len(full.tests.cases) == 4
    assert base.difficulty == 7 and base.reference[0].startswith("```python\nn = int(input())")


def test_math_loaders_fields():
    g1, g2 = _load("gsm8k", "gsm8k.jsonl")
    assert (g1.answer, g2.answer) == ("18", "1500")
    assert g1.reference[0] == f"He bakes 12 * 4 = 48 rolls.{S}"
    m1, m2 = _load("math", "math.jsonl")
    assert (m1.answer, m2.answer, m1.difficulty, m2.difficulty) == (r"\frac{5}{6}", "4", 1, 2)


def _with_splits(tmp_path, splits):
    """The fixture's rows with a `split` field per row (None: no field)."""
    rows = [json.loads(line) for line in (FIXTURES / "tasks.jsonl").read_text().splitlines()]
    for row, split in zip(rows, splits):
        if split is not None:
            row["split"] = split
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_split_filter_and_oracle_fields(tmp_path):
    path = _with_splits(tmp_path, ["train", "test", "train", "train", "val"])
    train = load_suite("jsonl", "train", path=path)
    assert [t.task_id for t in train] == ["add", "echo_sum", "pens"]
    assert [t.task_id for t in load_suite("jsonl", "val", path=path)] == ["half"]
    assert [t.task_id for t in load_suite("jsonl", "train", path=FIXTURES / "tasks.jsonl")] == [
        "add", "rev", "echo_sum", "pens", "half"]               # no split fields: every split
    pens = train[2]
    assert pens.step_values == ("27", "21") and pens.answer == "21" and pens.difficulty == 2
    named = load_suite("jsonl", "train", path=path, suite_name="mine", n=1)
    assert [(t.suite, t.task_id) for t in named] == [("mine", "add")]


MALFORMED = [  # (loader, line content, expected message fragment)
    ("mbpp", {"task_id": 1, "text": "x", "code": "def f(): pass"}, "field 'test_list': missing"),
    ("mbpp", {"task_id": 1, "text": "x", "code": "def f(): pass", "test_list": ["assert g() == 1"]},
     "field 'test_list': no assert calls"),
    ("livecodebench", {"question_id": "1", "question_content": "x", "public_test_cases": "[{"},
     "field 'public_test_cases': holds text that is not valid JSON"),
    ("livecodebench", {"question_id": "1", "question_content": "x", "metadata": "{}",
                       "public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "functional"}])},
     "field 'metadata': functional problem without 'func_name'"),
    ("apps", {"problem_id": 1, "question": "x", "input_output": json.dumps({"inputs": ["1"]})},
     "field 'input_output': expected JSON with 'inputs' and 'outputs'"),
    ("code_contests", {"name": "x", "description": "y", "public_tests": {"input": ["1"], "output": []}},
     "field 'public_tests': expected"),
    ("gsm8k", {"question": "q", "answer": "no final line"}, "field 'answer': has no '####"),
    ("gsm8k", {"question": 3, "answer": "#### 1"}, "field 'question': expected str, got int"),
    ("math", {"problem": "p", "solution": "no box"}, r"field 'solution': has no \boxed"),
    ("jsonl", {"task_id": "a", "kind": "code", "problem": "p"}, "field 'tests': missing"),
    ("jsonl", {"task_id": "a", "kind": "code", "problem": "p", "tests": {"type": "fuzz"}}, "field 'tests.type'"),
    ("jsonl", {"task_id": "a", "kind": "code", "problem": "p", "tests": {"type": "call", "entry_point": "f",
                                                                       "cases": [[1, 2]]}}, "field 'tests.cases'"),
    ("jsonl", {"task_id": "a", "kind": "chess", "problem": "p"}, "field 'kind'"),
    ("jsonl", {"task_id": "a", "kind": "math", "problem": "p"}, "field 'answer': missing"),
]


@pytest.mark.parametrize("name,row,message", MALFORMED)
def test_malformed_record_names_file_line_and_field(tmp_path, name, row, message):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n" + json.dumps(row) + "\n")  # blank first line: the record is on line 2
    with pytest.raises(DataFormatError) as err:
        load_suite(name, "test", path=path)
    assert str(err.value).startswith(f"{path}, line 2, ")
    assert message in str(err.value)


def test_invalid_json_line_and_duplicate_ids(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"task_id": "a"}\n{not json\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl, line 2: not valid JSON"):
        load_suite("jsonl", "test", path=path)
    row = {"task_id": "a", "kind": "math", "problem": "p", "answer": "1"}
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataFormatError, match="line 2, field 'task_id': 'a' repeats the task of line 1"):
        load_suite("jsonl", "test", path=path)


def test_missing_file_and_bad_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_suite("gsm8k", "test", path=tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match="exactly one of path= .* or hub="):
        load_suite("gsm8k", "test")
    with pytest.raises(TypeError, match="unknown loader options"):
        load_suite("gsm8k", "test", path=FIXTURES / "gsm8k.jsonl", paht="x")


def test_hub_needs_datasets():
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs the 'datasets' library"):
            load_suite("gsm8k", "test", hub="openai/gsm8k", hub_config="main")
    else:
        pytest.skip("datasets is installed; hub loading needs network, not tested here")


def test_jsonl_mixing_rows_with_and_without_split_is_refused(tmp_path):
    path = _with_splits(tmp_path, ["train", "val", None, "train", "train"])
    with pytest.raises(DataFormatError, match=r"tasks.jsonl, line 3, field 'split': missing, but other rows "
                                              r"have one \(line 1: 'train'\)"):
        load_suite("jsonl", "train", path=path)


def test_a_one_split_suite_loads_without_naming_its_split():
    import gymnasium as gym

    import envs  # noqa: F401  (registers the env ids)
    from envs.tasks.registry import default_split, suite_spec

    assert default_split(suite_spec("humaneval")) == "test" and default_split(suite_spec("basic")) == "train"
    tasks = load_suite("humaneval")
    assert len(tasks) == 164 and {t.split for t in tasks} == {"test"}
    env = gym.make("ThoughtMDP-Code-v0", tasks="humaneval")
    assert len(env.unwrapped.tasks) == 164
    env.close()
    with pytest.raises(ValueError, match="has no split 'train'"):       # an explicit wrong split still fails
        load_suite("humaneval", "train")


def test_same_train_and_val_tasks_warn(caplog):
    from codereset.run.builders import warn_if_same_tasks

    tasks = _load("jsonl", "tasks.jsonl", split="train")
    with caplog.at_level("WARNING", logger="codereset.train"):
        assert warn_if_same_tasks(tasks, tasks[:2], "train", "val")
    assert "validation measures recall" in caplog.text
    assert not warn_if_same_tasks(tasks[:2], tasks[2:], "train", "val")


def test_the_readmes_bring_your_own_tasks_example_loads(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("## Bring your own tasks")[1].split("```json\n")[1].split("```")[0]
    rows, buf = [], ""
    for line in block.splitlines():          # the README wraps long rows over two lines
        buf += line
        try:
            rows.append(json.loads(buf))
            buf = ""
        except json.JSONDecodeError:
            continue
    assert len(rows) == 4 and buf == ""
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [t.task_id for t in load_suite("jsonl", "train", path=path)] == ["add", "echo", "pens"]
    assert [t.task_id for t in load_suite("jsonl", "val", path=path)] == ["rev"]
