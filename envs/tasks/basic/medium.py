"""Medium (difficulty 2) families of the `basic` suite: a loop or a condition to get right."""

from __future__ import annotations

import random

from envs.tasks.basic.easy import src
from envs.tasks.basic.family import Spec, family, ints, sentence, word


@family("fizzbuzz", 2)
def fizzbuzz(rng: random.Random) -> Spec:
    a, b = rng.choice([(3, 5), (2, 7), (3, 4), (4, 6), (2, 5), (3, 7)])
    w1, w2 = rng.sample(["Fizz", "Buzz", "Foo", "Bar", "Ping", "Pong"], 2)
    f = rng.choice(["fizzbuzz", "fizz_buzz", "word_game"])
    desc = (f"returns a list of strings for the numbers 1 to n: \"{w1}{w2}\" for multiples of both {a} and {b}, "
            f"\"{w1}\" for other multiples of {a}, \"{w2}\" for other multiples of {b}, and the number itself "
            "as a string otherwise")
    sol = src(f"""
        def {f}(n):
            result = []
            for i in range(1, n + 1):
                if i % {a} == 0 and i % {b} == 0:
                    result.append("{w1}{w2}")
                elif i % {a} == 0:
                    result.append("{w1}")
                elif i % {b} == 0:
                    result.append("{w2}")
                else:
                    result.append(str(i))
            return result
        """)
    return Spec(f, "n", desc, sol, f"I loop from 1 to n and test divisibility by both {a} and {b} first.",
                tuple((rng.randint(1, 30),) for _ in range(5)) + ((0,),))


@family("factorial", 2)
def factorial(rng: random.Random) -> Spec:
    f = rng.choice(["factorial", "fact", "factorial_of", "compute_factorial"])
    return Spec(f, "n", "returns n! (the product 1 * 2 * ... * n) for an integer n >= 0; 0! is 1",
                src(f"def {f}(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n"),
                "I multiply the numbers 2..n into a result that starts at 1.",
                tuple((rng.randint(0, 20),) for _ in range(5)) + ((0,),))


@family("fibonacci", 2)
def fibonacci(rng: random.Random) -> Spec:
    f = rng.choice(["fibonacci", "fib", "nth_fibonacci", "fibonacci_number"])
    return Spec(f, "n", "returns the n-th Fibonacci number, where fib(0) = 0, fib(1) = 1 and each next one is the "
                "sum of the two before",
                src(f"def {f}(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"),
                "I keep the last two numbers and advance them n times.",
                tuple((rng.randint(0, 40),) for _ in range(5)) + ((1,),))


@family("second_largest", 2)
def second_largest(rng: random.Random) -> Spec:
    f = rng.choice(["second_largest", "runner_up"])
    inputs = []
    while len(inputs) < 6:
        xs = ints(rng, rng.randint(2, 8))
        if len(set(xs)) >= 2:
            inputs.append((xs,))
    return Spec(f, "numbers", "returns the second largest distinct value in the list numbers (it holds at least two "
                "distinct values)",
                src(f"def {f}(numbers):\n    values = sorted(set(numbers))\n    return values[-2]\n"),
                "I sort the distinct values and take the one before the last.", tuple(inputs))


@family("remove_duplicates", 2)
def remove_duplicates(rng: random.Random) -> Spec:
    f = rng.choice(["remove_duplicates", "unique", "dedupe"])
    return Spec(f, "items", "returns the list items without repeated values, keeping the first occurrence of each "
                "in the original order",
                src(f"def {f}(items):\n    seen = set()\n    result = []\n    for x in items:\n        if x not in seen:\n"
                    "            seen.add(x)\n            result.append(x)\n    return result\n"),
                "I keep a set of values already seen and append only new ones.",
                tuple((ints(rng, rng.randint(0, 10), 0, 6),) for _ in range(6)))


@family("count_divisible", 2)
def count_divisible(rng: random.Random) -> Spec:
    k = rng.randint(2, 9)
    f = rng.choice(["count_divisible", "count_multiples"])
    return Spec(f, "numbers", f"returns how many integers in the list numbers are divisible by {k}",
                src(f"def {f}(numbers):\n    return sum(1 for n in numbers if n % {k} == 0)\n"),
                f"I count the numbers with n % {k} == 0.", tuple((ints(rng, rng.randint(0, 10), -30, 30),) for _ in range(6)))


@family("digit_sum", 2)
def digit_sum(rng: random.Random) -> Spec:
    f = rng.choice(["digit_sum", "sum_of_digits"])
    return Spec(f, "n", "returns the sum of the decimal digits of the integer n >= 0",
                src(f"def {f}(n):\n    return sum(int(d) for d in str(n))\n"), "I add up the digits of str(n).",
                tuple((rng.randint(0, 10 ** rng.randint(1, 7)),) for _ in range(6)))


@family("gcd", 2)
def gcd(rng: random.Random) -> Spec:
    f = rng.choice(["gcd", "greatest_common_divisor"])
    inputs = tuple((rng.randint(1, 12) * c, rng.randint(1, 12) * c) for c in (rng.randint(1, 20) for _ in range(6)))
    return Spec(f, "a, b", "returns the greatest common divisor of the positive integers a and b",
                src(f"def {f}(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"),
                "Euclid's algorithm: replace (a, b) by (b, a % b) until b is 0.", inputs)


@family("is_prime", 2)
def is_prime(rng: random.Random) -> Spec:
    f = rng.choice(["is_prime", "prime"])
    return Spec(f, "n", "returns True if the integer n is a prime number and False otherwise (numbers below 2 are "
                "not prime)",
                src(f"def {f}(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n"
                    "        if n % i == 0:\n            return False\n        i += 1\n    return True\n"),
                "I try every divisor from 2 up to the square root of n.",
                tuple((rng.randint(-3, 120),) for _ in range(7)) + ((97,), (1,)))


@family("running_sum", 2)
def running_sum(rng: random.Random) -> Spec:
    f = rng.choice(["running_sum", "prefix_sums", "cumulative_sum"])
    return Spec(f, "numbers", "returns the list of running totals of numbers: element i is the sum of numbers[0] to "
                "numbers[i]",
                src(f"def {f}(numbers):\n    total = 0\n    result = []\n    for n in numbers:\n        total += n\n"
                    "        result.append(total)\n    return result\n"),
                "I keep a running total and append it after adding each number.",
                tuple((ints(rng, rng.randint(0, 8)),) for _ in range(6)))


@family("remove_vowels", 2)
def remove_vowels(rng: random.Random) -> Spec:
    f = rng.choice(["remove_vowels", "strip_vowels", "disemvowel"])
    return Spec(f, "s", "returns the string s without its vowels (a, e, i, o, u, lower or upper case)",
                src(f"def {f}(s):\n    return ''.join(ch for ch in s if ch.lower() not in 'aeiou')\n"),
                "I keep only the characters whose lower case is not a vowel.",
                tuple((rng.choice([sentence(rng), sentence(rng).title()]),) for _ in range(6)))


@family("caesar_shift", 2)
def caesar_shift(rng: random.Random) -> Spec:
    k = rng.randint(1, 25)
    f = rng.choice(["caesar", "shift_letters", "encode"])
    return Spec(f, "s", f"returns s with every lower-case letter a-z moved {k} places forward in the alphabet, "
                "wrapping around after z; other characters stay unchanged",
                src(f"def {f}(s):\n    out = []\n    for ch in s:\n        if 'a' <= ch <= 'z':\n"
                    f"            out.append(chr((ord(ch) - ord('a') + {k}) % 26 + ord('a')))\n        else:\n"
                    "            out.append(ch)\n    return ''.join(out)\n"),
                f"For each letter I compute (position + {k}) % 26 and convert back.",
                tuple((sentence(rng, 1, 3),) for _ in range(6)))


@family("char_frequency", 2)
def char_frequency(rng: random.Random) -> Spec:
    f = rng.choice(["char_frequency", "letter_counts"])
    return Spec(f, "s", "returns a dict that maps each character of the string s to the number of times it appears",
                src(f"def {f}(s):\n    counts = {{}}\n    for ch in s:\n        counts[ch] = counts.get(ch, 0) + 1\n"
                    "    return counts\n"),
                "I loop over the characters and increase a counter in a dict.",
                tuple((word(rng, 0, 10, "abcde"),) for _ in range(6)))


@family("filter_greater", 2)
def filter_greater(rng: random.Random) -> Spec:
    t = rng.randint(-5, 10)
    f = rng.choice(["filter_greater", "above_threshold", "keep_large"])
    return Spec(f, "numbers", f"returns the integers of the list numbers that are greater than {t}, in their original order",
                src(f"def {f}(numbers):\n    return [n for n in numbers if n > {t}]\n"),
                f"I keep the numbers with n > {t}.", tuple((ints(rng, rng.randint(0, 9)),) for _ in range(6)))


@family("count_upper", 2)
def count_upper(rng: random.Random) -> Spec:
    f = rng.choice(["count_upper", "count_capitals"])
    return Spec(f, "s", "returns how many upper-case letters the string s contains",
                src(f"def {f}(s):\n    return sum(1 for ch in s if ch.isupper())\n"), "I count characters with isupper().",
                tuple((rng.choice([sentence(rng).title(), sentence(rng), sentence(rng).upper()]),) for _ in range(6)))


@family("sum_parity", 2)
def sum_parity(rng: random.Random) -> Spec:
    parity = rng.choice(["even", "odd"])
    f = f"sum_of_{parity}s"
    cond = "n % 2 == 0" if parity == "even" else "n % 2 != 0"
    return Spec(f, "numbers", f"returns the sum of the {parity} integers in the list numbers",
                src(f"def {f}(numbers):\n    return sum(n for n in numbers if {cond})\n"),
                f"I add up the numbers with {cond}.", tuple((ints(rng, rng.randint(0, 9)),) for _ in range(6)))


@family("power_of_two", 2)
def power_of_two(rng: random.Random) -> Spec:
    f = rng.choice(["is_power_of_two", "power_of_two"])
    inputs = tuple((rng.choice([2 ** rng.randint(0, 12), rng.randint(-4, 300)]),) for _ in range(7)) + ((0,),)
    return Spec(f, "n", "returns True if the integer n is a power of two (1, 2, 4, 8, ...) and False otherwise",
                src(f"def {f}(n):\n    if n < 1:\n        return False\n    while n % 2 == 0:\n        n //= 2\n    return n == 1\n"),
                "I divide by 2 while n is even; a power of two ends at 1.", inputs)


@family("reverse_words", 2)
def reverse_words(rng: random.Random) -> Spec:
    f = rng.choice(["reverse_words", "flip_sentence"])
    return Spec(f, "s", "returns the words of the string s in reverse order, joined by single spaces",
                src(f"def {f}(s):\n    return ' '.join(reversed(s.split()))\n"),
                "I split into words, reverse the list and join with spaces.",
                tuple((sentence(rng, 1, 6),) for _ in range(6)))
