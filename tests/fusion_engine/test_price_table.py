"""The pool file's ``[prices]`` table: a plain server's prices, parsed exactly, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion_engine.config import FusionConfig, load_config
from fusion_engine.errors import ConfigError
from fusion_engine.llm.base import ModelPrice

POOLS = 'default_pool = "a"\n[pools.a]\nmodels = ["x/1", "x/2"]\njudge = "x/1"\nwriter = "x/2"\n'


def _load(tmp_path: Path, prices: str) -> FusionConfig:
    path = tmp_path / "pools.toml"
    path.write_text(POOLS + prices)
    return load_config(path)


def test_prices_are_usd_per_million_tokens_in_exact_micros(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        '[prices]\n"x/1" = { prompt = 0.15, completion = 0.6 }\n'
        '"x/2" = { prompt = 3, completion = 15 }\n"free/one" = { prompt = 0, completion = 0 }\n',
    )
    assert config.price_table() == {
        "x/1": ModelPrice(prompt_per_mtok=150_000, completion_per_mtok=600_000),
        "x/2": ModelPrice(prompt_per_mtok=3_000_000, completion_per_mtok=15_000_000),
        "free/one": ModelPrice(prompt_per_mtok=0, completion_per_mtok=0),
    }


def test_no_table_is_an_empty_one() -> None:
    assert load_config().price_table() == {}


@pytest.mark.parametrize(
    ("prices", "problem"),
    [
        ('"x/1" = { prompt = -1, completion = 1 }', "prices.x/1.prompt: Input should be greater"),
        ('"x/1" = { prompt = 1 }', "prices.x/1.completion: Field required"),
        ('"x/1" = { prompt = 1, completion = 1, request = 0 }', "prices.x/1.request: Extra"),
        ('"x/1" = { prompt = "cheap", completion = 1 }', "prices.x/1.prompt: Input should be a"),
        ('"x/1" = { prompt = inf, completion = 1 }', "prices.x/1.prompt: Input should be a finite"),
        ('"x/1" = { prompt = 1, completion = 20000 }', "prices.x/1.completion: Input should be le"),
        ('"x/1" = 3', "prices.x/1: Input should be a valid dictionary"),
        ('"x 1" = { prompt = 1, completion = 1 }', "prices has 'x 1', which is not a model slug"),
    ],
)
def test_a_bad_price_names_its_key(tmp_path: Path, prices: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"[prices]\n{prices}\n")
    assert problem in str(caught.value)
    assert "See README.md, 'Configuration'" in str(caught.value)
