"""``FusionBot``: the gateway client. It wires the app commands, the persistent per-model
buttons, and ``@Fusion <question>`` mentions to the ``Intake``; answers go out through
``DiscordResponder`` (in this process or a worker).

Intents are guilds + guild/DM messages only: a message that mentions the bot carries its
content without the privileged message-content intent. A mention inside an answer's thread
continues that conversation (the thread's earlier turns are kept in Redis).
"""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands

from adapters.discord.buttons import ModelAnswerButton
from adapters.discord.commands import add_commands
from adapters.discord.intake import Intake
from adapters.discord.store import DiscordStore
from fusion_engine.errors import InputError, RefusedError, UnavailableError

__all__ = ["FusionBot", "intents"]

_log = logging.getLogger(__name__)
_NONE = discord.AllowedMentions.none()
_THINKING = "Thinking… (asking the panel)"
_BROKEN = "Something went wrong on my side. Please try again in a minute."


def intents() -> discord.Intents:
    """No privileged intents: guilds for channels and threads, messages for mentions and DMs."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    return wanted


class FusionBot(discord.Client):
    """The Discord gateway bot. ``store`` is read by the persistent buttons."""

    def __init__(
        self, intake: Intake, *, sync_commands: bool = True, guild_ready_timeout: float = 2.0
    ) -> None:
        super().__init__(
            intents=intents(), allowed_mentions=_NONE, guild_ready_timeout=guild_ready_timeout
        )
        self.intake = intake
        self.store: DiscordStore = intake.store
        self.tree = app_commands.CommandTree(self)
        self._sync_commands = sync_commands
        add_commands(self.tree, intake)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ModelAnswerButton)
        if self._sync_commands:
            await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot:
            return
        in_dm = message.guild is None
        if not in_dm and me not in message.mentions:
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        placeholder: discord.Message | None = None
        try:
            placeholder = await message.reply(_THINKING, mention_author=False)
        except discord.Forbidden:
            _log.info(
                "no permission to reply in channel %s; the answer goes by DM", message.channel.id
            )
        try:
            history = await self.store.conversation(str(message.channel.id))
            accepted = await self.intake.submit(
                f"discord:{message.id}",
                question,
                pool=None,
                user_id=message.author.id,
                guild_id=None if message.guild is None else message.guild.id,
                channel_id=message.channel.id,
                history=history or (),
                thread_id=message.channel.id if history is not None else None,
                message_id=None if placeholder is None else placeholder.id,
            )
        except UnavailableError as exc:  # the README's words, as they are
            await _answer(message, placeholder, exc.user_message)
            return
        except (InputError, RefusedError) as exc:
            await _answer(message, placeholder, f"Sorry, I can't answer that: {exc.user_message}")
            return
        except Exception:
            _log.exception("mention %s could not be submitted", message.id)
            if placeholder is not None:
                await placeholder.edit(content=_BROKEN, allowed_mentions=_NONE)
            return
        if accepted.duplicate and placeholder is not None:
            # A re-delivered event: the first placeholder carries the answer.
            await placeholder.delete()


async def _answer(message: discord.Message, placeholder: discord.Message | None, text: str) -> None:
    """Say ``text`` in place of the answer: in the placeholder, or by DM when there is none."""
    if placeholder is not None:
        await placeholder.edit(content=text, allowed_mentions=_NONE)
    else:
        await message.author.send(text, allowed_mentions=_NONE)
