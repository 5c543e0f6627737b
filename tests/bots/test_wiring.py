"""``Runtime``: refuses without a key before opening anything; owns and closes what it opens."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from pydantic import SecretStr

import fusion_engine.http
from bots.settings import Settings
from bots.wiring import GC_THRESHOLDS, Runtime, tune_gc_for_serving
from fusion_engine.errors import ConfigError
from fusion_engine.http import new_http_client
from fusion_engine.request import FusionRequest
from tests.bots.conftest import PANEL
from tests.fakes.model_server import FakeModelServer

DEFAULT_GC = (700, 10, 10)
"""CPython's thresholds."""


def _settings(server: FakeModelServer, pool_file: Path, key: str | None = "test-key") -> Settings:
    return Settings(
        openrouter_api_key=None if key is None else SecretStr(key),
        openrouter_base_url=server.base_url,
        fusion_config=pool_file,
    )


async def test_missing_key_is_a_config_error(
    model_server: FakeModelServer, pool_file: Path
) -> None:
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY is not set"):
        async with Runtime.open(_settings(model_server, pool_file, key=None)):
            pass  # pragma: no cover - never reached
    assert model_server.requests == []


async def test_runtime_wires_the_engine_and_closes_its_client(
    model_server: FakeModelServer, pool_file: Path
) -> None:
    async with Runtime.open(_settings(model_server, pool_file)) as rt:
        assert rt.config.default_pool == "main"
        assert not rt.http.is_closed
        request = FusionRequest.create("What is the answer?", rt.config.pool())
        quote = await rt.engine.quote(request)
        assert quote.micros > 0
        assert quote.unpriced == ()  # prices came from the fake's /models
        result = await rt.engine.fuse(request)
        assert {a.model for a in result.answers} == set(PANEL)
        assert model_server.requests[0].headers["authorization"] == "Bearer test-key"
    assert rt.http.is_closed


async def test_a_lent_http_client_stays_open(
    model_server: FakeModelServer, pool_file: Path
) -> None:
    async with new_http_client() as http:
        async with Runtime.open(_settings(model_server, pool_file), http=http) as rt:
            assert rt.http is http
        assert not http.is_closed


def test_tuning_the_gc_freezes_start_up_objects_and_raises_thresholds() -> None:
    gc.unfreeze()
    tune_gc_for_serving()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    # the autouse ``_restore_gc`` fixture puts the defaults back


async def test_the_first_shared_client_a_process_opens_tunes_its_gc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``fusion ask`` and library users run fusions without a serving command's
    ``tune_gc_for_serving``: opening the shared client tunes the GC for them, once a process."""
    monkeypatch.setattr(fusion_engine.http, "_gc_tuned", False)
    gc.unfreeze()
    gc.set_threshold(*DEFAULT_GC)
    async with new_http_client():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    gc.set_threshold(*DEFAULT_GC)
    async with new_http_client():
        assert gc.get_threshold() == DEFAULT_GC  # already tuned once: not again
