from __future__ import annotations

from pathlib import Path

import pytest

from fusion_engine.config import load_config
from fusion_engine.errors import ConfigError, InputError
from fusion_engine.request import MAX_QUESTION_CHARS, ConversationTurn, FusionRequest


def test_builtin_pools_load_and_are_sane() -> None:
    config = load_config()
    assert set(config.pools) >= {"research", "technical", "budget"}
    for pool in config.pools.values():
        assert pool.quorum <= len(pool.models)
        assert pool.judge
        assert pool.writer
    assert config.pool().name == config.default_pool


def test_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "pools.toml"
    path.write_text(
        'default_pool = "mine"\n[pools.mine]\nmodels = ["a/x", "b/y"]\n'
        'judge = "c/z"\nwriter = "d/w"\nquorum = 1\ngrace_s = 2.5\n'
    )
    config = load_config(path)
    assert config.pool("mine").models == ("a/x", "b/y")
    assert config.pool("mine").grace_s == 2.5


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("default_pool = ", "not valid TOML"),
        ('default_pool = "nope"\n[pools.a]\nmodels=["x/1","x/2"]\njudge="j"\nwriter="w"\n', "nope"),
        ('default_pool = "a"\n[pools.a]\nmodels=["x/1"]\njudge="j"\nwriter="w"\n', "models"),
        ('default_pool = "a"\n[pools.a]\nmodels=["x/1","x/1"]\njudge="j"\nwriter="w"\n', "twice"),
        (
            'default_pool = "a"\n[pools.a]\nmodels=["x/1","x/2"]\njudge="j"\nwriter="w"\n'
            "quorum = 5\n",
            "quorum",
        ),
        (
            'default_pool = "a"\n[pools.a]\nmodels=["x/1","x/2"]\njudge="j"\nwriter="w"\nbad=1\n',
            "bad",
        ),
    ],
)
def test_bad_files_say_what_to_fix(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "pools.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


def test_missing_file_names_the_file_not_a_setting(tmp_path: Path) -> None:
    """Which variable points at the file is for the process to say (``bots/``)."""
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"Cannot read the pool file {missing} (No such file or directory)."


def test_resolve_overrides() -> None:
    config = load_config()
    spec = config.resolve(models=("a/1", "b/2", "a/1"), judge="j/1", writer="w/1")
    assert spec.models == ("a/1", "b/2")
    assert spec.quorum <= 2
    assert (spec.judge, spec.writer) == ("j/1", "w/1")
    with pytest.raises(InputError, match="Unknown pool 'nope'"):
        config.resolve("nope")
    with pytest.raises(InputError, match="between 2 and 8"):
        config.resolve(models=("only/one",))
    with pytest.raises(InputError, match="not a model slug"):
        config.resolve(models=("a b", "c/d"))


def test_request_validation() -> None:
    pool = load_config().pool()
    with pytest.raises(InputError, match="empty"):
        FusionRequest.create("   ", pool)
    with pytest.raises(InputError, match="limit"):
        FusionRequest.create("x" * (MAX_QUESTION_CHARS + 1), pool)
    request = FusionRequest.create("  why?  ", pool)
    assert request.question == "why?"
    assert FusionRequest.model_validate_json(request.model_dump_json()) == request


def test_history_keeps_the_most_recent_turns() -> None:
    pool = load_config().pool()
    turns = tuple(ConversationTurn(role="user", content=f"{i}" * 10_000) for i in range(5))
    request = FusionRequest.create("follow-up?", pool, history=turns)
    assert request.history == turns[-2:]


@pytest.mark.parametrize(
    ("budgets", "fragment"),
    [
        ('user_rate_limit = "lots"', "budgets.user_rate_limit 'lots' is not a rate limit"),
        ('user_rate_limit = "0/minute"', "must be one rate of at least 1"),
        ('user_rate_limit = "1/minute;9/hour"', "must be one rate of at least 1"),
        ("daily_usd = 1e13", "budgets.daily_usd: Input should be less than or equal to 1000000"),
    ],
)
def test_bad_budget_defaults_name_the_key(tmp_path: Path, budgets: str, fragment: str) -> None:
    path = tmp_path / "pools.toml"
    path.write_text(
        'default_pool = "a"\n[budgets]\n' + budgets + '\n[pools.a]\nmodels=["x/1","x/2"]\n'
        'judge="j"\nwriter="w"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert fragment in str(info.value)


def test_a_rate_limit_the_limiter_accepts_loads(tmp_path: Path) -> None:
    path = tmp_path / "pools.toml"
    path.write_text(
        'default_pool = "a"\n[budgets]\nuser_rate_limit = "100 per hour"\n'
        '[pools.a]\nmodels=["x/1","x/2"]\njudge="j"\nwriter="w"\n'
    )
    assert load_config(path).budgets.user_rate_limit == "100 per hour"


def test_a_pool_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "pools.toml"
    path.write_bytes(b'default_pool = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 19 cannot be read\)"):
        load_config(path)
