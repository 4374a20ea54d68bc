"""Fixtures of the LM suite tests: a tiny random causal LM saved once per module, and a working folder
with its own cache (adapters are saved under ./runs)."""

from __future__ import annotations

import pytest

from tests.tiny_lm import make_tiny_lm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path
