"""The application commands: ``/fuse question:<text> [pool:<choice>]`` with pool autocomplete,
and ``/fuse-budget show|set`` for members with Manage Server.

``/fuse`` defers at once (the user sees "thinking"), then submits; a refusal (bad input, over
budget, rate-limited, service down) removes the public "thinking" message and says why only to
the asker, and nothing is charged. The answer itself arrives through ``DiscordResponder``.
With Redis down, both commands say the README's "temporarily unavailable" message.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord
from discord import app_commands

from adapters.common import split_text
from adapters.discord.intake import Intake
from adapters.discord.render import CONTENT_LIMIT
from fusion_engine.errors import InputError, RefusedError, UnavailableError
from fusion_engine.money import MAX_LIMIT_USD, format_usd

__all__ = ["add_commands", "refuse"]

_log = logging.getLogger(__name__)
_NONE = discord.AllowedMentions.none()
_REFUSALS = (InputError, RefusedError, UnavailableError)


async def refuse(interaction: discord.Interaction[Any], message: str) -> None:
    """Replace the deferred public "thinking" message with a note only the asker sees."""
    with contextlib.suppress(discord.HTTPException):
        await interaction.delete_original_response()
    for part in split_text(message, CONTENT_LIMIT):
        await interaction.followup.send(part, ephemeral=True, allowed_mentions=_NONE)


async def _tell(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer a command that was not deferred with a note only the user sees."""
    await interaction.response.send_message(message, ephemeral=True, allowed_mentions=_NONE)


def _can_manage(interaction: discord.Interaction[Any]) -> bool:
    return interaction.guild_id is not None and interaction.permissions.manage_guild


def add_commands(tree: app_commands.CommandTree[Any], intake: Intake) -> None:
    """Register ``/fuse`` and ``/fuse-budget`` on ``tree``."""

    @tree.command(name="fuse", description="Ask several AI models at once; get one fused answer.")
    @app_commands.describe(question="Your question", pool="Which panel of models to ask")
    async def fuse(
        interaction: discord.Interaction[Any], question: str, pool: str | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)
        channel_id = interaction.channel_id or 0
        # Asked inside a thread: no thread on the answer, and an answer thread's conversation
        # goes on.
        in_thread = isinstance(interaction.channel, discord.Thread)
        try:
            history = await intake.store.conversation(str(channel_id))
            await intake.submit(
                f"discord:{interaction.id}",
                question,
                pool=pool,
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=channel_id,
                history=history or (),
                thread_id=channel_id if in_thread or history is not None else None,
                interaction_id=interaction.id,
                interaction_token=interaction.token,
                application_id=interaction.application_id,
            )
        except _REFUSALS as exc:
            await refuse(interaction, exc.user_message)

    @fuse.autocomplete("pool")
    async def pool_choices(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.lower().strip()
        choices = []
        for name, spec in sorted(intake.config.pools.items()):
            if needle in name.lower() or needle in spec.description.lower():
                label = f"{name} — {spec.description}" if spec.description else name
                choices.append(app_commands.Choice(name=label[:100], value=name))
        return choices[:25]

    budget = app_commands.Group(
        name="fuse-budget",
        description="Show or change this server's Fusion budget.",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @budget.command(name="show", description="This server's Fusion spend and limits.")
    async def show(interaction: discord.Interaction[Any]) -> None:
        if not _can_manage(interaction):
            await _tell(interaction, "You need the Manage Server permission for this.")
            return
        try:
            status = await intake.service.budget(str(interaction.guild_id))
        except _REFUSALS as exc:
            await _tell(interaction, exc.user_message)
            return
        await interaction.response.send_message(
            f"Today: {format_usd(status.daily_spent_micros)} of "
            f"{format_usd(status.daily_limit_micros)} · this month: "
            f"{format_usd(status.monthly_spent_micros)} of "
            f"{format_usd(status.monthly_limit_micros)} · "
            f"{format_usd(status.remaining_micros)} left.",
            ephemeral=True,
        )

    @budget.command(name="set", description="Change this server's daily and monthly limits (USD).")
    @app_commands.describe(daily_usd="Daily limit in USD", monthly_usd="Monthly limit in USD")
    async def set_limits(
        interaction: discord.Interaction[Any],
        daily_usd: app_commands.Range[float, 0, MAX_LIMIT_USD],
        monthly_usd: app_commands.Range[float, 0, MAX_LIMIT_USD],
    ) -> None:
        if not _can_manage(interaction):
            await _tell(interaction, "You need the Manage Server permission for this.")
            return
        try:
            status = await intake.service.set_limits(
                str(interaction.guild_id), daily_usd=daily_usd, monthly_usd=monthly_usd
            )
        except _REFUSALS as exc:
            await _tell(interaction, exc.user_message)
            return
        await interaction.response.send_message(
            f"Limits set: {format_usd(status.daily_limit_micros)} a day, "
            f"{format_usd(status.monthly_limit_micros)} a month."
            + (f"\n⚠️ {status.limits_warning}" if status.limits_warning else ""),
            ephemeral=True,
        )

    tree.add_command(budget)

    @tree.error
    async def on_error(
        interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """A bug must not leave the user looking at "thinking" forever."""
        _log.error(
            "/%s failed", interaction.command.name if interaction.command else "?", exc_info=error
        )
        message = "Something went wrong on my side. Please try again in a minute."
        if interaction.response.is_done():
            await refuse(interaction, message)
        else:
            await _tell(interaction, message)
