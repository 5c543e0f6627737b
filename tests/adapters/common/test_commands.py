from __future__ import annotations

import pytest

from adapters.common import (
    AskCommand,
    BudgetCommand,
    BudgetSetCommand,
    HelpCommand,
    PoolsCommand,
    parse_command,
)
from fusion_engine.errors import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpCommand()),
        ("  help ", HelpCommand()),
        ("pools", PoolsCommand()),
        ("budget", BudgetCommand()),
        ("budget set --daily 10 --monthly 100", BudgetSetCommand(daily_usd=10, monthly_usd=100)),
        ("budget set --daily=$2.50", BudgetSetCommand(daily_usd=2.5)),
        ("budget set --monthly 1,000", BudgetSetCommand(monthly_usd=1000)),
        ("what's the best way?", AskCommand(question="what's the best way?")),
        ("--pool fast what's up", AskCommand(question="what's up", pool="fast")),
        ('--pool=fast  it\'s "quoted"', AskCommand(question='it\'s "quoted"', pool="fast")),
        ("help me with pools", AskCommand(question="help me with pools")),
        ("budget planning for a startup?", AskCommand(question="budget planning for a startup?")),
        ("-- --pool is a flag?", AskCommand(question="--pool is a flag?")),
        ("Why x --pool y?", AskCommand(question="Why x --pool y?")),
    ],
)
def test_parses_the_grammar(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_question_keeps_inner_whitespace_and_code() -> None:
    text = "--pool deep explain\n```py\nx  =  1\n```\nplease"
    cmd = parse_command(text)
    assert isinstance(cmd, AskCommand)
    assert cmd.question == "explain\n```py\nx  =  1\n```\nplease"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("--model gpt why", "Unknown option `--model`"),
        ("--pool", "needs a pool name"),
        ("--pool fast", "question is empty"),
        ("--pool ../etc why", "not a pool name"),
        ("budget set", "Say which limit"),
        ("budget set --weekly 3", "Unknown option `--weekly`"),
        ("budget set --daily ten", "not an amount"),
        ("budget set --daily -3", "from 0 to $1,000,000.00"),
        ("budget set --daily nan", "from 0 to $1,000,000.00"),
        ("budget set --monthly 1e13", "`--monthly` takes an amount in USD from 0 to $1,000,000.00"),
        ("budget set --daily", "needs an amount"),
    ],
)
def test_bad_options_say_how_to_fix(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_command(text)
    assert fragment in info.value.user_message
