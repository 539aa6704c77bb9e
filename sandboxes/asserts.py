"""Prepares HumanEval-style assert tests for the judge: per-assert cases and imported names.

``prepare`` compiles the (trusted) test code once per distinct test and rewrites ``check`` into
cases, each a ``with __cr_case__(k):`` block, so one failing assert fails its case only and the
verdict's fraction is the share of cases passed. Splitting is sound by construction: every
top-level statement of ``check`` runs inside some case. A case ends at a statement that asserts
on the candidate (outside a nested function or class) and holds the statements before it; the
statements after the last such one join the last case. A helper ``def t(...): assert ...`` and
its calls, ``f = candidate`` or ``r = candidate(...)`` then ``assert r == ...``, a trailing
``1/0``: each failure lands in a case, never outside one. Names bound from the candidate's
results (``r = candidate(...)``) count as the candidate's for this. Statements that only assert
constants (HumanEval's ``assert True, "..."``) end no case: they would give a wrong program
credit. ``prepare`` also finds the names the tests use but do not define (a helper the program
must provide): the judge fetches those from the candidate as proxies or plain values.
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
    setup: tuple[CodeType, ...]
    """The setup's top-level statements, compiled one by one (the judge runs each it can)."""
    setup_names: tuple[str, ...]
    """Names the setup binds: the judge's own value where it is trusted, else the candidate's."""
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


_OPAQUE_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _walk_here(node: ast.AST):
    """The nodes under ``node`` that run when it runs (not the bodies of nested defs)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(c for c in ast.iter_child_nodes(n) if not isinstance(c, _OPAQUE_SCOPES))


def _ends_case(stmt: ast.stmt, watched: set[str]) -> bool:
    """The statement itself asserts something and mentions the candidate (or a name bound from
    it): a def holding asserts does not, it only runs when called."""
    if isinstance(stmt, _OPAQUE_SCOPES):
        return False
    asserts = mentions = False
    for n in _walk_here(stmt):
        if isinstance(n, ast.Assert):
            asserts = True
        elif isinstance(n, ast.Name) and n.id in watched:
            mentions = True
        if asserts and mentions:
            return True
    return False


def _bound_from(stmt: ast.stmt, watched: set[str]) -> set[str]:
    """Names a statement binds when it mentions a watched name (``f = candidate``, ``r =
    candidate(x)``, ``def t(): ... candidate ...``): they stand for the candidate from then on."""
    if not any(isinstance(n, ast.Name) and n.id in watched for n in ast.walk(stmt)):
        return set()
    bound = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Store)}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.add(stmt.name)
    return bound


def _case_block(stmts: list[ast.stmt], k: int) -> ast.With:
    first = stmts[0]
    at = {"lineno": first.lineno, "col_offset": first.col_offset,
          "end_lineno": first.lineno, "end_col_offset": first.col_offset}
    hook = ast.Call(func=ast.Name(CASE_HOOK, ast.Load(), **at),
                    args=[ast.Constant(k, **at)], keywords=[], **at)
    return ast.With(items=[ast.withitem(context_expr=hook)], body=stmts, **at)


def _split(check: ast.FunctionDef, watched: set[str]) -> list[str]:
    """Rewrite ``check``'s body into case blocks (see the module docstring); returns one label
    per case, or [] (body unchanged: the whole check is one case) when no statement ends one."""
    watched = set(watched)
    groups: list[list[ast.stmt]] = []
    names: list[str] = []
    pending: list[ast.stmt] = []
    for stmt in check.body:
        pending.append(stmt)
        if _ends_case(stmt, watched):
            groups.append(pending)
            names.append(f"{check.name} line {stmt.lineno}")
            pending = []
        watched |= _bound_from(stmt, watched)
    if not groups:
        return []
    groups[-1].extend(pending)
    check.body = [_case_block(g, k) for k, g in enumerate(groups)]
    return names


@functools.lru_cache(maxsize=4096)
def prepare(test_code: str, check_name: str, helpers: str, split: bool,
            setup: str = "") -> PreparedAsserts:
    bound, used = _bound_and_used(test_code)
    helper_bound = _bound_and_used(helpers)[0] if helpers else set()
    setup_names = sorted(_bound_and_used(setup)[0]) if setup else []
    imports = sorted(used - bound - helper_bound - set(setup_names) - set(dir(builtins))
                     - {CASE_HOOK})
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
        setup=tuple(compile(ast.Module(body=[stmt], type_ignores=[]), "<setup>", "exec")
                    for stmt in ast.parse(setup).body),
        setup_names=tuple(setup_names),
        module=compile(tree, "<tests>", "exec"),
        case_names=tuple(names), imports=tuple(imports),
        prefetch=tuple(keys[:MAX_PREFETCH]))
