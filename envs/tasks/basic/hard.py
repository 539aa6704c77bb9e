"""Hard (difficulty 3) families of the `basic` suite: small algorithms with edge cases."""

from __future__ import annotations

import random

from envs.tasks.basic.easy import src
from envs.tasks.basic.family import WORDS, Spec, family, ints, sentence, word


@family("run_length_encode", 3)
def run_length_encode(rng: random.Random) -> Spec:
    f = rng.choice(["run_length_encode", "compress"])
    sol = src(f"""
        def {f}(s):
            out = []
            i = 0
            while i < len(s):
                j = i
                while j < len(s) and s[j] == s[i]:
                    j += 1
                out.append(s[i] + str(j - i))
                i = j
            return ''.join(out)
        """)
    return Spec(f, "s", "returns the run-length encoding of s: each run of equal characters becomes the character "
                "followed by the run's length, e.g. \"aaab\" -> \"a3b1\"", sol,
                "I walk over runs of equal characters and write the character and the run length.",
                tuple((word(rng, 0, 12, "aab"),) for _ in range(6)))


@family("balanced_brackets", 3)
def balanced_brackets(rng: random.Random) -> Spec:
    f = rng.choice(["is_balanced", "balanced"])
    sol = src(f"""
        def {f}(s):
            pairs = {{')': '(', ']': '[', '}}': '{{'}}
            stack = []
            for ch in s:
                if ch in '([{{':
                    stack.append(ch)
                elif ch in pairs:
                    if not stack or stack.pop() != pairs[ch]:
                        return False
            return not stack
        """)
    inputs = tuple((rng.choice(["", "()", "([]{})", "([)]", "((", "{[()()]}", "(]", "}{"] + [word(rng, 1, 8, "()[]{}")]),)
                   for _ in range(8))
    return Spec(f, "s", "returns True if the brackets (), [] and {} in the string s are balanced and properly nested, "
                "and False otherwise", sol, "I push opening brackets on a stack and pop a matching one at each closing bracket.",
                inputs)


@family("to_roman", 3)
def to_roman(rng: random.Random) -> Spec:
    f = rng.choice(["to_roman", "roman_numeral"])
    sol = src(f"""
        def {f}(n):
            values = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'),
                      (50, 'L'), (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]
            out = ''
            for value, letters in values:
                while n >= value:
                    out += letters
                    n -= value
            return out
        """)
    return Spec(f, "n", "returns the Roman numeral of the integer n (1 <= n <= 3999) as a string, e.g. 14 -> \"XIV\"",
                sol, "I subtract the largest value from a table that includes 900, 400, 90, 40, 9 and 4.",
                tuple((rng.randint(1, 3999),) for _ in range(5)) + ((4,), (1994,)))


@family("has_pair_sum", 3)
def has_pair_sum(rng: random.Random) -> Spec:
    f = rng.choice(["has_pair_sum", "two_sum_exists"])
    sol = src(f"""
        def {f}(numbers, target):
            seen = set()
            for n in numbers:
                if target - n in seen:
                    return True
                seen.add(n)
            return False
        """)
    inputs = tuple((ints(rng, rng.randint(0, 7), -10, 10), rng.randint(-12, 12)) for _ in range(7))
    return Spec(f, "numbers, target", "returns True if two elements at different positions of the list numbers add up "
                "to target, and False otherwise", sol,
                "For each number I check whether target minus it was seen before.", inputs)


@family("longest_increasing_run", 3)
def longest_increasing_run(rng: random.Random) -> Spec:
    f = rng.choice(["longest_increasing_run", "longest_rising_streak"])
    sol = src(f"""
        def {f}(numbers):
            best = current = 0
            for i, n in enumerate(numbers):
                current = current + 1 if i > 0 and n > numbers[i - 1] else 1
                best = max(best, current)
            return best
        """)
    return Spec(f, "numbers", "returns the length of the longest run of consecutive elements of the list numbers in which "
                "each element is strictly greater than the one before (0 for an empty list)", sol,
                "I extend the current run while numbers increase, else restart it at 1, and keep the best length.",
                tuple((ints(rng, rng.randint(0, 10), 0, 9),) for _ in range(6)))


@family("is_anagram", 3)
def is_anagram(rng: random.Random) -> Spec:
    f = rng.choice(["is_anagram", "anagrams"])
    inputs = []
    for _ in range(6):
        a = sentence(rng, 1, 2)
        letters = list(a.replace(" ", ""))
        rng.shuffle(letters)
        b = "".join(letters) if rng.random() < 0.5 else sentence(rng, 1, 2)
        inputs.append((a, b.upper() if rng.random() < 0.3 else b))
    return Spec(f, "a, b", "returns True if the strings a and b contain the same letters the same number of times, "
                "ignoring spaces and upper/lower case, and False otherwise",
                src(f"def {f}(a, b):\n    clean = lambda s: sorted(s.replace(' ', '').lower())\n    return clean(a) == clean(b)\n"),
                "I remove spaces, lower-case both strings and compare their sorted letters.", tuple(inputs))


@family("transpose", 3)
def transpose(rng: random.Random) -> Spec:
    f = rng.choice(["transpose", "flip_matrix"])
    inputs = []
    for _ in range(5):
        rows, cols = rng.randint(1, 4), rng.randint(1, 4)
        inputs.append(([ints(rng, cols, 0, 9) for _ in range(rows)],))
    return Spec(f, "matrix", "returns the transpose of matrix, a non-empty list of equally long lists: row i of the "
                "result is column i of matrix",
                src(f"def {f}(matrix):\n    return [[row[i] for row in matrix] for i in range(len(matrix[0]))]\n"),
                "Row i of the result collects element i of every row.", tuple(inputs))


@family("primes_up_to", 3)
def primes_up_to(rng: random.Random) -> Spec:
    f = rng.choice(["primes_up_to", "list_primes"])
    sol = src(f"""
        def {f}(n):
            primes = []
            for k in range(2, n + 1):
                if all(k % p for p in primes if p * p <= k):
                    primes.append(k)
            return primes
        """)
    return Spec(f, "n", "returns the list of all prime numbers less than or equal to n, in increasing order", sol,
                "I test each k from 2 to n against the primes found so far.",
                tuple((rng.randint(0, 60),) for _ in range(5)) + ((2,),))


@family("most_common_char", 3)
def most_common_char(rng: random.Random) -> Spec:
    f = rng.choice(["most_common_char", "top_letter"])
    sol = src(f"""
        def {f}(s):
            counts = {{}}
            for ch in s:
                counts[ch] = counts.get(ch, 0) + 1
            return min(counts, key=lambda ch: (-counts[ch], ch))
        """)
    return Spec(f, "s", "returns the character that appears most often in the non-empty string s of lower-case letters; "
                "on a tie, the one that comes first in the alphabet", sol,
                "I count each character, then pick the highest count, breaking ties alphabetically.",
                tuple((word(rng, 1, 12, "abcdef"),) for _ in range(6)))


@family("flatten", 3)
def flatten(rng: random.Random) -> Spec:
    f = rng.choice(["flatten", "concat_lists"])
    inputs = tuple(([ints(rng, rng.randint(0, 3), 0, 9) for _ in range(rng.randint(0, 4))],) for _ in range(6))
    return Spec(f, "lists", "returns one list with the elements of all the lists in the list lists, in order",
                src(f"def {f}(lists):\n    return [x for inner in lists for x in inner]\n"),
                "I loop over the inner lists and then over their elements.", inputs)


@family("to_binary", 3)
def to_binary(rng: random.Random) -> Spec:
    f = rng.choice(["to_binary", "binary_string"])
    sol = src(f"""
        def {f}(n):
            if n == 0:
                return '0'
            digits = ''
            while n > 0:
                digits = str(n % 2) + digits
                n //= 2
            return digits
        """)
    return Spec(f, "n", "returns the binary representation of the integer n >= 0 as a string of 0s and 1s without a "
                "prefix, e.g. 6 -> \"110\"", sol, "I collect n % 2 digits while halving n, most significant first.",
                tuple((rng.randint(0, 1000),) for _ in range(5)) + ((0,),))


@family("longest_word", 3)
def longest_word(rng: random.Random) -> Spec:
    f = rng.choice(["longest_word", "longest"])
    pool = WORDS + ["a", "an", "sky", "banana", "elephant", "kiwi"]
    return Spec(f, "s", "returns the longest word of the string s (words are separated by spaces); on a tie, the one "
                "that comes first", src(f"def {f}(s):\n    best = ''\n    for w in s.split():\n        if len(w) > len(best):\n"
                                        "            best = w\n    return best\n"),
                "I keep the first word that is strictly longer than the best so far.",
                tuple((" ".join(rng.choice(pool) for _ in range(rng.randint(1, 6))),) for _ in range(6)))


@family("merge_sorted", 3)
def merge_sorted(rng: random.Random) -> Spec:
    f = rng.choice(["merge_sorted", "merge"])
    sol = src(f"""
        def {f}(a, b):
            i = j = 0
            out = []
            while i < len(a) and j < len(b):
                if a[i] <= b[j]:
                    out.append(a[i])
                    i += 1
                else:
                    out.append(b[j])
                    j += 1
            return out + a[i:] + b[j:]
        """)
    return Spec(f, "a, b", "returns one sorted list with all elements of the sorted lists a and b", sol,
                "I walk both lists with two indexes, always taking the smaller head.",
                tuple((sorted(ints(rng, rng.randint(0, 5))), sorted(ints(rng, rng.randint(0, 5)))) for _ in range(6)))
