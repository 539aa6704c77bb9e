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


# Nested scopes: calls inside them run later or not at all, so they are not prefetched.
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)
_LEAVES = (ast.Constant, ast.Name, ast.expr_context, ast.operator, ast.cmpop, ast.unaryop,
           ast.boolop)


def _literal_calls(node: ast.AST, name: str, keys: list[str]) -> None:
    """Append the ``call_key`` of each ``name(<literals>)`` call under ``node``, in evaluation
    order (children before the call), outside nested scopes."""
    if isinstance(node, _SCOPES):
        return
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _LEAVES):
            _literal_calls(child, name, keys)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == name):
        return
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords):
        return
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        keys.append(call_key(codec.encode(args), codec.encode(kwargs)))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return


def _is_case(stmt: ast.stmt, watched: set[str]) -> bool:
    """The statement asserts something and mentions the candidate (or a name it provides)."""
    asserts = mentions = False
    for n in ast.walk(stmt):
        if isinstance(n, ast.Assert):
            asserts = True
        elif isinstance(n, ast.Name) and n.id in watched:
            mentions = True
        if asserts and mentions:
            return True
    return False


def _split(check: ast.FunctionDef, watched: set[str]) -> list[str]:
    body, names = [], []
    for stmt in check.body:
        if _is_case(stmt, watched):
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
    keys: list[str] = []
    for stmt in check.body:
        _literal_calls(stmt, param, keys)
    names: list[str] = []
    if split:
        names = _split(check, {param, *imports})
    return PreparedAsserts(
        helpers=compile(helpers, "<helpers>", "exec") if helpers else None,
        module=compile(tree, "<tests>", "exec"),
        case_names=tuple(names), imports=tuple(imports),
        prefetch=tuple(keys[:MAX_PREFETCH]))
