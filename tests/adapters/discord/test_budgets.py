"""Budgets per guild (admin commands need Manage Server) and per user in DMs."""

from __future__ import annotations

from adapters.discord import DiscordStore
from fusion_engine.config import FusionConfig
from tests.adapters.discord.conftest import (
    Running,
    ScriptedService,
    question,
    start_bot,
    stop_bot,
)
from tests.fakes.discord_api import GUILD_ID, USER_ID, FakeDiscord

CALLBACK = r"/interactions/{id}/[^/]+/callback"


async def _budget_command(
    fake: FakeDiscord, sub: str, options: list[dict[str, object]], *, admin: bool
) -> dict[str, object]:
    event = fake.slash_command("fuse-budget", options, subcommand=sub, manage_guild=admin)
    await fake.dispatch("INTERACTION_CREATE", event)
    (call,) = await fake.wait_for_call("POST", CALLBACK.format(id=event["id"]))
    assert call.json["type"] == 4
    data = call.json["data"]
    assert data["flags"] & 64
    return dict(data)


async def test_show_needs_manage_server(fake_discord: FakeDiscord, running: Running) -> None:
    denied = await _budget_command(fake_discord, "show", [], admin=False)
    assert "Manage Server" in str(denied["content"])
    shown = await _budget_command(fake_discord, "show", [], admin=True)
    assert str(shown["content"]).startswith("Today: $0.00 of $5.00")


async def test_set_changes_the_guild_limits(fake_discord: FakeDiscord, running: Running) -> None:
    limits = [
        {"name": "daily_usd", "type": 10, "value": 2.5},
        {"name": "monthly_usd", "type": 10, "value": 20},
    ]
    denied = await _budget_command(fake_discord, "set", limits, admin=False)
    assert "Manage Server" in str(denied["content"])
    assert running.service.limits == {}
    done = await _budget_command(fake_discord, "set", limits, admin=True)
    assert running.service.limits == {GUILD_ID: (2.5, 20.0)}
    assert "$2.50 a day, $20.00 a month" in str(done["content"])
    assert "above the monthly" not in str(done["content"])


async def test_a_daily_limit_above_the_monthly_one_is_set_with_a_warning(
    fake_discord: FakeDiscord, running: Running
) -> None:
    limits = [
        {"name": "daily_usd", "type": 10, "value": 100},
        {"name": "monthly_usd", "type": 10, "value": 1},
    ]
    done = await _budget_command(fake_discord, "set", limits, admin=True)
    assert running.service.limits == {GUILD_ID: (100.0, 1.0)}
    assert str(done["content"]) == (
        "Limits set: $100.00 a day, $1.00 a month.\n⚠️ The daily limit ($100.00) is above the "
        "monthly limit ($1.00), so at most $1.00 can be spent in a day or a month."
    )


async def test_budget_commands_are_registered_for_managers_only(
    fake_discord: FakeDiscord, running: Running
) -> None:
    (sync,) = fake_discord.calls_to("PUT", r"/applications/\d+/commands")
    by_name = {c["name"]: c for c in sync.json}
    assert set(by_name) == {"fuse", "fuse-budget"}
    assert int(by_name["fuse-budget"]["default_member_permissions"]) == 0x20  # Manage Server
    pool = next(o for o in by_name["fuse"]["options"] if o["name"] == "pool")
    assert pool["autocomplete"] is True


async def test_dm_questions_use_the_users_own_budget(
    fake_discord: FakeDiscord, running: Running, config: FusionConfig
) -> None:
    for _ in range(2):
        event = fake_discord.slash_command("fuse", question("q"), dm=True)
        await fake_discord.dispatch("INTERACTION_CREATE", event)
    first, second = await running.service.wait_jobs(2)
    tenant = f"dm:{USER_ID}"
    assert first.reply.tenant == second.reply.tenant == tenant
    assert running.service.limit_calls == [tenant], "DM defaults are applied once"
    budgets = config.budgets
    assert running.service.limits[tenant] == (budgets.dm_daily_usd, budgets.dm_monthly_usd)
    assert fake_discord.state.threads == {}, "no threads in DMs"
    assert fake_discord.original(event["token"])["content"].startswith("The sky is blue")


async def test_dm_limit_zero_disables_dms(
    fake_discord: FakeDiscord, store: DiscordStore, config: FusionConfig
) -> None:
    no_dms = config.model_copy(
        update={"budgets": config.budgets.model_copy(update={"dm_daily_usd": 0.0})}
    )
    running = await start_bot(fake_discord, ScriptedService(), store, no_dms)
    try:
        event = fake_discord.slash_command("fuse", question("q"), dm=True)
        await fake_discord.dispatch("INTERACTION_CREATE", event)
        (followup,) = await fake_discord.wait_for_call("POST", rf"/webhooks/\d+/{event['token']}")
    finally:
        await stop_bot(running)
    assert followup.json["flags"] & 64
    assert "not available in direct messages" in followup.json["content"]
    assert running.service.jobs == []
    assert running.service.limit_calls == []
