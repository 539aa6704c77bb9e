"""Prepares HumanEval-style assert tests for the judge: per-assert cases and imported names.

``prepare`` compiles the (trusted) test code once per distinct test and rewrites ``check``: each
top-level statement that asserts on the candidate runs inside ``with __cr_case__(k):``, so one
failing assert fails its case only and the verdict's fraction is the share of asserts passed.
Statements that only assert constants (HumanEval's ``assert True, "..."``) are not cases: they
would give a wrong program credit. It also finds the names the tests use but do not define (a
helper such as HumanEval/32's ``poly`` that lives in the program): the judge fetches those from
the candidate as proxies or plain values.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import symtable
from dataclasses import dataclass
from types import CodeType

from .runner import codec

CASE_HOOK = "__cr_case__"
MAX_PREFETCH = 1000


def call_key(args, kwargs) -> str:
    """Identity of a call: its encoded arguments (``codec.encode`` of the tuple and the dict)."""
    return json.dumps([args, kwargs], separators=(",", ":"))


@dataclass(frozen=True)
class PreparedAsserts:
    helpers: CodeType | None
    module: CodeType
    case_names: tuple[str, ...]
    """One label per case; empty when the whole check() is a single case."""
    imports: tuple[str, ...]
    """Names the tests use but neither they nor the helpers define."""
    prefetch: tuple[str, ...]
    """``call_key``s of the candidate calls with literal arguments, in source order: sent to the
    candidate in one batch right after the program, so most asserts cost no round trip."""


def _bound_and_used(source: str) -> tuple[set[str], set[str]]:
    top = symtable.symtable(source, "<tests>", "exec")
    bound = {s.get_name() for s in top.get_symbols()
             if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    stack = list(top.get_children())
    while stack:
        table = stack.pop()
        stack.extend(table.get_children())
        used |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    return bound, used


class _LiteralCalls(ast.NodeVisitor):
    """Calls ``name(<literals>)`` in evaluation order, outside nested function scopes."""

    def __init__(self, name: str):
        self.name = name
        self.keys: list[str] = []

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Name) and node.func.id == self.name):
            return
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            return
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            self.keys.append(call_key(codec.encode(args), codec.encode(kwargs)))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return

    def _skip(self, node) -> None:
        return None

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _skip
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _has_assert(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(node))


def _split(check: ast.FunctionDef, watched: set[str]) -> list[str]:
    body, names = [], []
    for stmt in check.body:
        if _has_assert(stmt) and _mentions(stmt, watched):
            at = {"lineno": stmt.lineno, "col_offset": stmt.col_offset,
                  "end_lineno": stmt.lineno, "end_col_offset": stmt.col_offset}
            hook = ast.Call(func=ast.Name(CASE_HOOK, ast.Load(), **at),
                            args=[ast.Constant(len(names), **at)], keywords=[], **at)
            body.append(ast.With(items=[ast.withitem(context_expr=hook)], body=[stmt], **at))
            names.append(f"{check.name} line {stmt.lineno}")
        else:
            body.append(stmt)
    if names:
        check.body = body
    return names


@functools.lru_cache(maxsize=4096)
def prepare(test_code: str, check_name: str, helpers: str, split: bool) -> PreparedAsserts:
    bound, used = _bound_and_used(test_code)
    helper_bound = _bound_and_used(helpers)[0] if helpers else set()
    imports = sorted(used - bound - helper_bound - set(dir(builtins)) - {CASE_HOOK})
    tree = ast.parse(test_code)
    check = next(n for n in tree.body
                 if isinstance(n, ast.FunctionDef) and n.name == check_name)
    param = check.args.args[0].arg
    finder = _LiteralCalls(param)
    for stmt in check.body:
        finder.visit(stmt)
    names: list[str] = []
    if split:
        names = _split(check, {param, *imports})
    return PreparedAsserts(
        helpers=compile(helpers, "<helpers>", "exec") if helpers else None,
        module=compile(tree, "<tests>", "exec"),
        case_names=tuple(names), imports=tuple(imports),
        prefetch=tuple(finder.keys[:MAX_PREFETCH]))
