"""Code suite `stdio`: procedural stdin/stdout programs (competitive-programming style).

Each family draws the input of several hidden tests; expected outputs come from running the
reference program here (our code) on them. Graded 1-3 like `basic`; splits by problem text.
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from textwrap import dedent, indent

from envs.tasks.basic import interleave
from envs.tasks.basic.family import WORDS, ints, sentence
from envs.tasks.task import Task, split_of, stable_hash

DEFAULT_N = {"train": 400, "val": 50, "test": 150}
from envs.rules import DEFAULT_STOP as STOP  # reference thoughts end with the default stop pattern


@dataclass(frozen=True)
class StdioSpec:
    """One drawn stdin/stdout task: statement parts, reference program, hidden test inputs."""

    statement: str
    input_format: str
    output_format: str
    solution: str
    plan: str
    inputs: tuple[str, ...]


STDIO_FAMILIES: dict[str, tuple[int, Callable[[random.Random], StdioSpec]]] = {}


def stdio_family(name: str, difficulty: int):
    """Decorator registering `make(rng) -> StdioSpec` as the stdio family `name`."""
    def register(make: Callable[[random.Random], StdioSpec]):
        if name in STDIO_FAMILIES:
            raise ValueError(f"stdio family {name!r} is registered twice")
        STDIO_FAMILIES[name] = (difficulty, make)
        return make
    return register


def _line(xs: Sequence[object]) -> str:
    return " ".join(str(x) for x in xs)


def _n_then_list(rng: random.Random, lo: int = 1, hi: int = 8) -> str:
    xs = ints(rng, rng.randint(lo, hi), -50, 50)
    return f"{len(xs)}\n{_line(xs)}\n"


def _src(text: str) -> str:
    return dedent(text).lstrip("\n")


N_LIST = "The first line holds an integer n; the second line holds n integers separated by spaces."


@stdio_family("sum_line", 1)
def sum_line(rng: random.Random) -> StdioSpec:
    return StdioSpec("Print the sum of the integers on the only line of the input.",
                     "One line of integers separated by spaces.", "One integer: their sum.",
                     "print(sum(int(x) for x in input().split()))\n",
                     "I split the line, convert to integers and print the sum.",
                     tuple(_line(ints(rng, rng.randint(1, 8), -100, 100)) + "\n" for _ in range(5)))


@stdio_family("max_of_n", 1)
def max_of_n(rng: random.Random) -> StdioSpec:
    which = rng.choice(["largest", "smallest"])
    return StdioSpec(f"Print the {which} of the n integers.", N_LIST, f"One integer: the {which} value.",
                     _src(f"""
                         n = int(input())
                         numbers = [int(x) for x in input().split()][:n]
                         print({'max' if which == 'largest' else 'min'}(numbers))
                         """), f"I read n and the numbers, then print the {which}.",
                     tuple(_n_then_list(rng) for _ in range(5)))


@stdio_family("count_even", 1)
def count_even(rng: random.Random) -> StdioSpec:
    parity = rng.choice(["even", "odd"])
    cond = "x % 2 == 0" if parity == "even" else "x % 2 != 0"
    return StdioSpec(f"Print how many of the n integers are {parity}.", N_LIST, "One integer: the count.",
                     _src(f"""
                         n = int(input())
                         numbers = [int(x) for x in input().split()][:n]
                         print(sum(1 for x in numbers if {cond}))
                         """), f"I count the numbers with {cond}.", tuple(_n_then_list(rng) for _ in range(5)))


@stdio_family("min_max", 1)
def min_max(rng: random.Random) -> StdioSpec:
    return StdioSpec("Print the smallest and the largest of the integers on the only input line.",
                     "One line of integers separated by spaces.", "Two integers separated by a space: minimum, then maximum.",
                     "numbers = [int(x) for x in input().split()]\nprint(min(numbers), max(numbers))\n",
                     "I read the numbers and print min and max.",
                     tuple(_line(ints(rng, rng.randint(1, 8))) + "\n" for _ in range(5)))


@stdio_family("pair_sums", 1)
def pair_sums(rng: random.Random) -> StdioSpec:
    op, sym = rng.choice([("sum", "+"), ("product", "*"), ("difference a - b", "-")])
    inputs = []
    for _ in range(5):
        cases = [f"{rng.randint(-50, 50)} {rng.randint(-50, 50)}" for _ in range(rng.randint(1, 5))]
        inputs.append(f"{len(cases)}\n" + "\n".join(cases) + "\n")
    return StdioSpec(f"For each test case print the {op} of its two integers a and b.",
                     "The first line holds t, the number of test cases; each of the next t lines holds a and b.",
                     "t lines, one integer each.",
                     _src(f"""
                         t = int(input())
                         for _ in range(t):
                             a, b = map(int, input().split())
                             print(a {sym} b)
                         """), f"I loop over the t lines and print a {sym} b for each.", tuple(inputs))


@stdio_family("reverse_each_word", 2)
def reverse_each_word(rng: random.Random) -> StdioSpec:
    return StdioSpec("Print the input line with every word reversed, keeping the words in their order.",
                     "One line of lower-case words separated by single spaces.", "One line.",
                     "print(' '.join(w[::-1] for w in input().split()))\n",
                     "I reverse each word with [::-1] and join them with spaces.",
                     tuple(sentence(rng, 1, 6) + "\n" for _ in range(5)))


@stdio_family("palindromes", 2)
def palindromes(rng: random.Random) -> StdioSpec:
    inputs = []
    for _ in range(5):
        words = [rng.choice(["level", "noon", "abba", "racecar", "a"] + WORDS) for _ in range(rng.randint(1, 5))]
        inputs.append(f"{len(words)}\n" + "\n".join(words) + "\n")
    return StdioSpec("For each word print YES if it reads the same backwards, otherwise NO.",
                     "The first line holds t; each of the next t lines holds one word.", "t lines, YES or NO.",
                     _src("""
                         t = int(input())
                         for _ in range(t):
                             w = input().strip()
                             print("YES" if w == w[::-1] else "NO")
                         """), "For each word I compare it with its reverse.", tuple(inputs))


@stdio_family("sort_numbers", 2)
def sort_numbers(rng: random.Random) -> StdioSpec:
    order = rng.choice(["increasing", "decreasing"])
    return StdioSpec(f"Print the integers of the input line in {order} order.",
                     "One line of integers separated by spaces.", "One line of integers separated by spaces.",
                     _src(f"""
                         numbers = sorted((int(x) for x in input().split()), reverse={order == 'decreasing'})
                         print(' '.join(str(x) for x in numbers))
                         """), f"I sort the numbers ({order}) and print them joined by spaces.",
                     tuple(_line(ints(rng, rng.randint(1, 8))) + "\n" for _ in range(5)))


@stdio_family("distinct_count", 2)
def distinct_count(rng: random.Random) -> StdioSpec:
    inputs = tuple(f"{k}\n{_line(ints(rng, k, 0, 5))}\n" for k in (rng.randint(1, 9) for _ in range(5)))
    return StdioSpec("Print how many distinct values the n integers contain.", N_LIST, "One integer.",
                     _src("""
                         n = int(input())
                         print(len(set(input().split()[:n])))
                         """), "I put the numbers in a set and print its size.", inputs)


@stdio_family("prefix_sums", 2)
def prefix_sums(rng: random.Random) -> StdioSpec:
    return StdioSpec("Print the running totals of the n integers: the i-th printed number is the sum of the first i.",
                     N_LIST, "One line of n integers separated by spaces.",
                     _src("""
                         n = int(input())
                         total = 0
                         out = []
                         for x in input().split()[:n]:
                             total += int(x)
                             out.append(str(total))
                         print(' '.join(out))
                         """), "I keep a running total and collect it after each number.",
                     tuple(_n_then_list(rng) for _ in range(5)))


@stdio_family("fizzbuzz_lines", 2)
def fizzbuzz_lines(rng: random.Random) -> StdioSpec:
    a, b = rng.choice([(3, 5), (2, 3), (4, 7), (3, 4)])
    return StdioSpec(f"For i from 1 to n print one line: FizzBuzz if i is a multiple of both {a} and {b}, Fizz if only "
                     f"of {a}, Buzz if only of {b}, otherwise i.", "One integer n.", "n lines.",
                     _src(f"""
                         n = int(input())
                         for i in range(1, n + 1):
                             if i % {a} == 0 and i % {b} == 0:
                                 print("FizzBuzz")
                             elif i % {a} == 0:
                                 print("Fizz")
                             elif i % {b} == 0:
                                 print("Buzz")
                             else:
                                 print(i)
                         """), f"I loop from 1 to n and test both {a} and {b} first.",
                     tuple(f"{rng.randint(1, 25)}\n" for _ in range(5)))


@stdio_family("grid_count", 3)
def grid_count(rng: random.Random) -> StdioSpec:
    inputs = []
    for _ in range(5):
        r, c = rng.randint(1, 5), rng.randint(1, 6)
        rows = ["".join(rng.choice(".#") for _ in range(c)) for _ in range(r)]
        inputs.append(f"{r} {c}\n" + "\n".join(rows) + "\n")
    return StdioSpec("A grid has r rows and c columns of '.' and '#'. Print the number of '#' cells in each row that "
                     "has the most of them, i.e. the maximum over rows of the count of '#'.",
                     "The first line holds r and c; each of the next r lines holds c characters.", "One integer.",
                     _src("""
                         r, c = map(int, input().split())
                         print(max(input().count('#') for _ in range(r)))
                         """), "I count '#' in every row and print the largest count.", tuple(inputs))


@stdio_family("top_word", 3)
def top_word(rng: random.Random) -> StdioSpec:
    pool = WORDS[: rng.randint(3, 6)]
    return StdioSpec("Print the word that appears most often on the input line; on a tie, the alphabetically first.",
                     "One line of lower-case words separated by spaces.", "One word.",
                     _src("""
                         words = input().split()
                         counts = {}
                         for w in words:
                             counts[w] = counts.get(w, 0) + 1
                         print(min(counts, key=lambda w: (-counts[w], w)))
                         """), "I count the words, then take the highest count, breaking ties alphabetically.",
                     tuple(" ".join(rng.choice(pool) for _ in range(rng.randint(1, 8))) + "\n" for _ in range(5)))


@stdio_family("second_max_cases", 3)
def second_max_cases(rng: random.Random) -> StdioSpec:
    inputs = []
    for _ in range(5):
        lines = []
        for _ in range(rng.randint(1, 4)):
            xs = ints(rng, rng.randint(2, 6), 0, 20)
            while len(set(xs)) < 2:
                xs = ints(rng, rng.randint(2, 6), 0, 20)
            lines.append(f"{len(xs)}\n{_line(xs)}")
        inputs.append(f"{len(lines)}\n" + "\n".join(lines) + "\n")
    return StdioSpec("For each test case print the second largest distinct value of its list.",
                     "The first line holds t. Each test case has a line with n and a line with n integers (at least "
                     "two distinct).", "t lines, one integer each.",
                     _src("""
                         t = int(input())
                         for _ in range(t):
                             n = int(input())
                             values = sorted(set(int(x) for x in input().split()[:n]))
                             print(values[-2])
                         """), "Per test case I sort the distinct values and print the one before the last.",
                     tuple(inputs))


def run_program(source: str, stdin: str) -> str:
    """Output of our own reference program on `stdin` (in this process: trusted code only)."""
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<stdio-reference>", "exec"), {"__name__": "__main__"})
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


def _problem(spec: StdioSpec, example_in: str, example_out: str) -> str:
    return (f"{spec.statement}\n\nInput: {spec.input_format}\nOutput: {spec.output_format}\n\n"
            f"Example input:\n{indent(example_in, '    ')}Example output:\n{indent(example_out, '    ')}").rstrip("\n")


def load(split: str = "train", seed: int = 0, n: int | None = None,
         difficulties: Sequence[int] = (1, 2, 3)) -> list[Task]:
    """`n` tasks of `split` (default `DEFAULT_N[split]`), split evenly over the families (in turn)."""
    from sandboxes import StdioTests

    n = DEFAULT_N[split] if n is None else n
    chosen = [(name, d, make) for name, (d, make) in STDIO_FAMILIES.items() if d in difficulties]
    if not chosen:
        raise ValueError(f"no stdio family has difficulty in {list(difficulties)}")
    per_family = [_draw_family(name, difficulty, make, split, seed, n // len(chosen) + (i < n % len(chosen)), StdioTests)
                  for i, (name, difficulty, make) in enumerate(chosen)]
    return interleave(per_family)


def _draw_family(name: str, difficulty: int, make: Callable[[random.Random], StdioSpec], split: str, seed: int,
                 quota: int, tests_cls: type) -> list[Task]:
    """`quota` distinct tasks of one family that fall into `split`."""
    tasks: dict[str, Task] = {}
    if quota == 0:
        return []
    for j in range(200 * quota + 200):
        spec = make(random.Random(f"stdio/{seed}/{name}/{j}"))
        cases = tuple((stdin, run_program(spec.solution, stdin)) for stdin in spec.inputs)
        problem = _problem(spec, *cases[0])
        if split_of(problem) != split:
            continue
        task_id = f"stdio/{name}-{stable_hash(problem + repr(cases))}"
        reference = (spec.plan + STOP, f"\n```python\n{spec.solution}```{STOP}")
        tasks.setdefault(task_id, Task(task_id=task_id, suite="stdio", kind="code", problem=problem,
                                       reference=reference, tests=tests_cls(cases=cases),
                                       difficulty=difficulty, split=split))
        if len(tasks) == quota:
            return list(tasks.values())
    raise RuntimeError(f"stdio family {name!r}: could not draw {quota} distinct {split} tasks")
