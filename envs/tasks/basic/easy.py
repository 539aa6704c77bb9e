"""Easy (difficulty 1) families of the `basic` suite: one-line ideas a small model often solves."""

from __future__ import annotations

import random
from textwrap import dedent

from envs.tasks.basic.family import Spec, family, ints, sentence, word


def src(text: str) -> str:
    return dedent(text).lstrip("\n")


@family("add_two", 1)
def add_two(rng: random.Random) -> Spec:
    f = rng.choice(["add", "add_numbers", "sum_two", "plus"])
    return Spec(f, "a, b", "returns the sum of the integers a and b",
                src(f"def {f}(a, b):\n    return a + b\n"), "I return a plus b.",
                tuple((rng.randint(-99, 99), rng.randint(-99, 99)) for _ in range(6)))


@family("multiply_two", 1)
def multiply_two(rng: random.Random) -> Spec:
    f = rng.choice(["multiply", "product", "times"])
    return Spec(f, "a, b", "returns the product of the integers a and b",
                src(f"def {f}(a, b):\n    return a * b\n"), "I return a times b.",
                tuple((rng.randint(-30, 30), rng.randint(-30, 30)) for _ in range(6)))


@family("abs_difference", 1)
def abs_difference(rng: random.Random) -> Spec:
    f = rng.choice(["abs_difference", "distance", "gap"])
    return Spec(f, "a, b", "returns the absolute difference between the integers a and b",
                src(f"def {f}(a, b):\n    return abs(a - b)\n"), "I subtract and take the absolute value.",
                tuple((rng.randint(-50, 50), rng.randint(-50, 50)) for _ in range(6)))


@family("is_even", 1)
def is_even(rng: random.Random) -> Spec:
    f = rng.choice(["is_even", "even"])
    return Spec(f, "n", "returns True if the integer n is even and False otherwise",
                src(f"def {f}(n):\n    return n % 2 == 0\n"), "A number is even when n % 2 is 0.",
                tuple((rng.randint(-100, 100),) for _ in range(6)))


@family("is_multiple", 1)
def is_multiple(rng: random.Random) -> Spec:
    k = rng.randint(3, 9)
    f = f"is_multiple_of_{k}"
    inputs = tuple((rng.choice([rng.randint(-60, 60), k * rng.randint(-9, 9)]),) for _ in range(7))
    return Spec(f, "n", f"returns True if the integer n is divisible by {k} and False otherwise",
                src(f"def {f}(n):\n    return n % {k} == 0\n"), f"n is divisible by {k} when n % {k} is 0.",
                inputs)


@family("reverse_string", 1)
def reverse_string(rng: random.Random) -> Spec:
    f = rng.choice(["reverse_string", "reverse_text", "backwards"])
    return Spec(f, "s", "returns the string s reversed",
                src(f"def {f}(s):\n    return s[::-1]\n"), "Slicing with step -1 reverses a string.",
                tuple((sentence(rng, 1, 3),) for _ in range(5)) + (("",),))


@family("max_of_list", 1)
def max_of_list(rng: random.Random) -> Spec:
    f = rng.choice(["max_of_list", "largest", "biggest"])
    return Spec(f, "numbers", "returns the largest integer in the non-empty list numbers",
                src(f"def {f}(numbers):\n    best = numbers[0]\n    for n in numbers:\n        if n > best:\n"
                    "            best = n\n    return best\n"),
                "I keep the largest value seen while looping over the list.",
                tuple((ints(rng, rng.randint(1, 8)),) for _ in range(6)))


@family("min_of_list", 1)
def min_of_list(rng: random.Random) -> Spec:
    f = rng.choice(["min_of_list", "smallest", "lowest"])
    return Spec(f, "numbers", "returns the smallest integer in the non-empty list numbers",
                src(f"def {f}(numbers):\n    best = numbers[0]\n    for n in numbers:\n        if n < best:\n"
                    "            best = n\n    return best\n"),
                "I keep the smallest value seen while looping over the list.",
                tuple((ints(rng, rng.randint(1, 8)),) for _ in range(6)))


@family("sum_list", 1)
def sum_list(rng: random.Random) -> Spec:
    f = rng.choice(["sum_list", "total", "list_sum"])
    return Spec(f, "numbers", "returns the sum of the integers in the list numbers (0 for an empty list)",
                src(f"def {f}(numbers):\n    total = 0\n    for n in numbers:\n        total += n\n    return total\n"),
                "I add every number to a running total that starts at 0.",
                tuple((ints(rng, rng.randint(0, 8)),) for _ in range(5)) + (([],),))


@family("count_vowels", 1)
def count_vowels(rng: random.Random) -> Spec:
    f = rng.choice(["count_vowels", "vowel_count", "num_vowels"])
    return Spec(f, "s", "returns the number of vowels (a, e, i, o, u, lower or upper case) in the string s",
                src(f"def {f}(s):\n    return sum(1 for ch in s.lower() if ch in 'aeiou')\n"),
                "I lower-case s and count the characters that are in 'aeiou'.",
                tuple((rng.choice([sentence(rng), sentence(rng).upper()]),) for _ in range(5)) + (("xyz",),))


@family("count_words", 1)
def count_words(rng: random.Random) -> Spec:
    f = rng.choice(["count_words", "word_count"])
    return Spec(f, "s", "returns the number of words in the string s, where words are separated by spaces",
                src(f"def {f}(s):\n    return len(s.split())\n"), "Splitting on whitespace gives the words.",
                tuple((sentence(rng, 0, 7),) for _ in range(6)))


@family("square_all", 1)
def square_all(rng: random.Random) -> Spec:
    f = rng.choice(["square_all", "squares", "square_each"])
    return Spec(f, "numbers", "returns a new list holding the square of each integer in the list numbers, in order",
                src(f"def {f}(numbers):\n    return [n * n for n in numbers]\n"), "I square each number with a list comprehension.",
                tuple((ints(rng, rng.randint(0, 6)),) for _ in range(6)))


@family("add_to_each", 1)
def add_to_each(rng: random.Random) -> Spec:
    k = rng.randint(1, 12)
    f = rng.choice(["add_to_each", "shift_all", "increase_all"])
    return Spec(f, "numbers", f"returns a new list where {k} is added to every integer of the list numbers",
                src(f"def {f}(numbers):\n    return [n + {k} for n in numbers]\n"), f"I add {k} to each number.",
                tuple((ints(rng, rng.randint(0, 6)),) for _ in range(6)))


@family("last_element", 1)
def last_element(rng: random.Random) -> Spec:
    f = rng.choice(["last_element", "last", "final_item"])
    return Spec(f, "items", "returns the last element of the non-empty list items",
                src(f"def {f}(items):\n    return items[-1]\n"), "Index -1 is the last element.",
                tuple((ints(rng, rng.randint(1, 6), 0, 99),) for _ in range(6)))


@family("repeat_string", 1)
def repeat_string(rng: random.Random) -> Spec:
    k = rng.randint(2, 4)
    f = rng.choice(["repeat_string", "repeat_text"])
    return Spec(f, "s", f"returns the string s repeated {k} times, with nothing in between",
                src(f"def {f}(s):\n    return s * {k}\n"), f"Multiplying a string by {k} repeats it.",
                tuple((word(rng, 0, 5),) for _ in range(6)))


@family("to_upper", 1)
def to_upper(rng: random.Random) -> Spec:
    f = rng.choice(["to_upper", "shout", "upper_case"])
    return Spec(f, "s", "returns the string s with every letter in upper case",
                src(f"def {f}(s):\n    return s.upper()\n"), "str.upper converts every letter.",
                tuple((sentence(rng, 1, 4),) for _ in range(6)))
