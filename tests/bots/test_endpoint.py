"""``FUSION_PROVIDER``: the endpoint a process talks to, how it is priced, and how a refused
key is named, end to end against the loopback fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bots.endpoint import model_endpoint
from bots.settings import Settings, load_pool_file
from bots.wiring import Runtime
from fusion_engine.config import load_config
from fusion_engine.errors import ConfigError
from fusion_engine.request import FusionRequest
from tests.bots.conftest import JUDGE, PANEL, POOL_FILE, WRITER, price_of_one_run
from tests.bots.test_ask_cli import final_error_line, invoke
from tests.fakes.model_server import FakeModelServer, ModelBehavior
from tests.ports import free_port

QUESTION = "What is the answer?"


def _priced_pool_file(tmp_path: Path, models: tuple[str, ...], usd: tuple[int, int]) -> Path:
    """The bots' pool file with a ``[prices]`` table pricing ``models`` at ``usd`` (prompt,
    completion) per million tokens."""
    rows = "".join(
        f"{json.dumps(m)} = {{ prompt = {usd[0]}, completion = {usd[1]} }}\n" for m in models
    )
    path = tmp_path / "priced.toml"
    path.write_text(f"{POOL_FILE}\n[prices]\n{rows}")
    return path


def _plain_settings(server: FakeModelServer, pool_file: Path) -> Settings:
    return Settings(
        _env_file=None,
        provider="openai",
        openai_base_url=server.base_url,
        openai_api_key=SecretStr("test-key"),
        fusion_config=pool_file,
    )


async def test_a_plain_server_is_charged_at_the_pool_file_prices(
    model_server: FakeModelServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The fake reports its own cost ($1 / $2 per million tokens), which an OpenRouter
    process charges; a plain one ignores it and charges the table's $10 / $20: ten times as
    much, exactly. No attribution header is sent and no ``/models`` list is asked for."""
    reported = await price_of_one_run(cli_env, QUESTION)
    model_server.requests.clear()
    pool_file = _priced_pool_file(tmp_path, (*PANEL, JUDGE, WRITER), (10, 20))
    async with Runtime.open(_plain_settings(model_server, pool_file)) as rt:
        request = FusionRequest.create(QUESTION, rt.config.pool())
        quote = await rt.engine.quote(request)
        result = await rt.engine.fuse(request)
    assert quote.unpriced == ()
    assert result.cost_micros == 10 * reported
    assert all("X-Title" not in r.headers for r in model_server.requests)
    assert model_server.models_calls == 1  # the OpenRouter run's, not this one's


async def test_a_model_missing_from_the_table_is_listed_unpriced(
    model_server: FakeModelServer, tmp_path: Path
) -> None:
    pool_file = _priced_pool_file(tmp_path, (*PANEL[1:], JUDGE, WRITER), (10, 20))
    async with Runtime.open(_plain_settings(model_server, pool_file)) as rt:
        quote = await rt.engine.quote(FusionRequest.create(QUESTION, rt.config.pool()))
    assert quote.unpriced == (PANEL[0],)


@pytest.mark.parametrize(
    ("provider_env", "variable"),
    [
        ({"OPENROUTER_API_KEY": "sk-or-v1-wrong-0000"}, "OPENROUTER_API_KEY"),
        ({"FUSION_PROVIDER": "openai", "OPENAI_API_KEY": "sk-wrong-0000"}, "OPENAI_API_KEY"),
    ],
)
async def test_a_refused_key_names_the_variable_of_the_chosen_provider(
    model_server: FakeModelServer,
    cli_env: dict[str, str],
    provider_env: dict[str, str],
    variable: str,
) -> None:
    env = cli_env | {"OPENAI_BASE_URL": cli_env["OPENROUTER_BASE_URL"]} | provider_env
    result = await invoke(["ask", QUESTION], env)
    assert result.exit_code == 1
    assert final_error_line(result) == (
        "Error: only 0 of the panel answered, 2 needed: all 3 calls failed: "
        f"HTTP 401: authentication failed (check {variable})"
    )
    assert "wrong" not in result.output


@pytest.mark.parametrize(
    ("provider_env", "variable"),
    [({}, "OPENROUTER_BASE_URL"), ({"FUSION_PROVIDER": "openai"}, "OPENAI_BASE_URL")],
)
async def test_an_endpoint_that_is_down_is_named_once_with_what_to_check(
    cli_env: dict[str, str], provider_env: dict[str, str], variable: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1"
    env = cli_env | {"OPENROUTER_BASE_URL": url, "OPENAI_BASE_URL": url} | provider_env
    result = await invoke(["ask", QUESTION], env)
    assert result.exit_code == 1
    line = final_error_line(result)
    assert line.startswith(
        "Error: only 0 of the panel answered, 2 needed: all 3 calls failed: "
        f"cannot connect to {url}: is the server running? Check {variable} ("
    )
    assert line.count("cannot connect") == 1


async def test_a_stream_that_breaks_after_connecting_is_not_called_a_refused_connection(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    for model in PANEL:
        model_server.set(model, ModelBehavior(fault="disconnect"))
    result = await invoke(["ask", QUESTION], cli_env)
    assert result.exit_code == 1
    assert "calls failed" in final_error_line(result)
    assert "cannot connect" not in result.output


async def test_a_plain_server_may_need_no_key(
    model_server: FakeModelServer, pool_file: Path
) -> None:
    settings = Settings(_env_file=None, provider="openai", fusion_config=pool_file)
    endpoint = model_endpoint(settings, load_config(pool_file))
    assert endpoint.api_key == ""
    assert endpoint.base_url == "https://api.openai.com/v1"


async def test_openrouter_refuses_a_price_table_it_would_ignore(
    model_server: FakeModelServer, tmp_path: Path
) -> None:
    pool_file = _priced_pool_file(tmp_path, PANEL, (1, 2))
    settings = Settings(_env_file=None, openrouter_api_key=SecretStr("k"), fusion_config=pool_file)
    with pytest.raises(ConfigError, match=r"\[prices\] table, which only FUSION_PROVIDER=openai"):
        async with Runtime.open(settings):
            pass  # pragma: no cover - never reached
    assert model_server.requests == []


def test_an_unknown_provider_names_the_choices() -> None:
    with pytest.raises(ValidationError, match="'vllm' is not a provider; use one of openrouter"):
        Settings(_env_file=None, FUSION_PROVIDER="vllm")
    assert Settings(_env_file=None, FUSION_PROVIDER=" OpenAI ").provider == "openai"


def test_an_unreadable_pool_file_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        load_pool_file(Settings(_env_file=None, fusion_config=missing))
    assert str(caught.value) == (
        f"Cannot read the pool file {missing} (No such file or directory). Point FUSION_CONFIG "
        "at another file, or unset it to use the built-in pools."
    )


async def test_a_credential_in_the_base_url_is_not_echoed(cli_env: dict[str, str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1?key=hunter3"
    result = await invoke(["ask", QUESTION], cli_env | {"OPENROUTER_BASE_URL": url})
    assert f"cannot connect to http://127.0.0.1:{port}/api/v1: " in final_error_line(result)
    assert "hunter" not in result.output
