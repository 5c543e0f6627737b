"""The per-model buttons on an answer: a persistent ``DynamicItem``.

The custom_id carries the job key and the model's index (``fuse:<job key>:<index>``), and the
result is read from Redis, so a click works on any bot process and after restarts, with no view
state kept in memory. The answer is shown only to whoever clicked (ephemeral).
"""

from __future__ import annotations

from re import Match
from typing import Any, Self

import discord
from discord import ui

from adapters.discord.render import BUTTON_ID, NO_MENTIONS, button_id, member_payloads
from adapters.discord.rest import Payload
from adapters.discord.store import DiscordStore
from fusion_engine.errors import UnavailableError

__all__ = ["ModelAnswerButton", "show_member_answer"]

_EXPIRED = "That answer is no longer stored (answers are kept for 30 days). Ask again with /fuse."


async def show_member_answer(
    interaction: discord.Interaction[Any], store: DiscordStore, job_key: str, index: int
) -> None:
    none = discord.AllowedMentions.none()
    try:
        result = await store.load_result(job_key)
    except UnavailableError as exc:
        await interaction.response.send_message(
            exc.user_message, ephemeral=True, allowed_mentions=none
        )
        return
    if result is None or index >= len(result.panel):
        await interaction.response.send_message(_EXPIRED, ephemeral=True, allowed_mentions=none)
        return
    payloads = member_payloads(result, index, ephemeral=True)
    _refuse_pings(payloads)
    await interaction.response.send_message(
        payloads[0]["content"], ephemeral=True, allowed_mentions=none
    )
    for payload in payloads[1:]:
        await interaction.followup.send(payload["content"], ephemeral=True, allowed_mentions=none)


def _refuse_pings(payloads: list[Payload]) -> None:
    """Model text must never ping: every payload must carry ``NO_MENTIONS``, checked before
    anything is sent (a real check, not an ``assert``, which ``python -O`` strips). The sends
    also pass ``AllowedMentions.none()``; this catches a renderer that stopped saying so."""
    for payload in payloads:
        if payload.get("allowed_mentions") != NO_MENTIONS:
            mentions = payload.get("allowed_mentions")
            raise ValueError(f"refusing to send a member answer with {mentions=}")


class ModelAnswerButton(ui.DynamicItem[ui.Button[ui.View]], template=BUTTON_ID):
    """Shows one panel member's own answer to the user who clicked."""

    def __init__(self, job_key: str, index: int, label: str = "answer") -> None:
        super().__init__(
            ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=button_id(job_key, index),
            )
        )
        self.job_key = job_key
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: Match[str], /
    ) -> Self:
        return cls(match["key"], int(match["index"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        store = getattr(interaction.client, "store", None)
        if not isinstance(store, DiscordStore):
            raise TypeError("ModelAnswerButton needs a client with a DiscordStore as .store")
        await show_member_answer(interaction, store, self.job_key, self.index)
