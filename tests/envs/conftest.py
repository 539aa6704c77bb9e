"""Fixtures for the envs tests: one sandbox per test module, shared by its code verifications."""

import pytest


@pytest.fixture(scope="module")
def sandbox():
    """A started `sandboxes` sandbox (backend "auto"), closed when the module's tests end."""
    sandboxes = pytest.importorskip("sandboxes")
    with sandboxes.make_sandbox("auto") as sb:
        yield sb


@pytest.fixture(scope="module")
def verifier(sandbox):
    """A Verifier on the module's shared sandbox."""
    from envs.verify import Verifier

    return Verifier(sandbox=sandbox)
