"""Discord gateway payloads for the loopback fake: the guild, members, and the
``INTERACTION_CREATE`` / ``MESSAGE_CREATE`` events a test dispatches, shaped as Discord sends
them (every field discord.py reads when it parses them)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "APP_ID",
    "BOT_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "OWNER_ID",
    "USER_ID",
    "DiscordPayloads",
    "now_iso",
    "question",
    "user_payload",
]

JSON = dict[str, Any]

APP_ID = "900000000000000001"
BOT_ID = "900000000000000001"
GUILD_ID = "910000000000000001"
CHANNEL_ID = "920000000000000001"
USER_ID = "930000000000000001"
OWNER_ID = "930000000000000002"

ALL_PERMISSIONS = str((1 << 50) - 1)
MEMBER_PERMISSIONS = str(0x400 | 0x800 | 0x10000 | 0x800000000 | 0x4000000000)
MANAGE_GUILD = 0x20


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def question(text: str, pool: str | None = None) -> list[JSON]:
    """The options of a ``/fuse`` command asking ``text`` (of ``pool``)."""
    options: list[JSON] = [{"name": "question", "type": 3, "value": text}]
    if pool is not None:
        options.append({"name": "pool", "type": 3, "value": pool})
    return options


def user_payload(user_id: str, name: str, *, bot: bool = False) -> JSON:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


class DiscordPayloads:
    """Builders for the fake's gateway payloads; ``FakeDiscord`` provides the state they read."""

    user: JSON
    bot_user: JSON
    _ids: itertools.count[int]

    def snowflake(self, at: datetime | None = None) -> str:
        raise NotImplementedError

    def _threads(self) -> dict[str, JSON]:
        raise NotImplementedError

    def _stored_message(self, message_id: str) -> JSON:
        raise NotImplementedError

    def guild(self) -> JSON:
        return {
            "id": GUILD_ID,
            "name": "Test guild",
            "icon": None,
            "owner_id": OWNER_ID,
            "unavailable": False,
            "member_count": 3,
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    "id": GUILD_ID,
                    "name": "@everyone",
                    "permissions": MEMBER_PERMISSIONS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
            ],
            "channels": [
                {
                    "id": CHANNEL_ID,
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "guild_id": GUILD_ID,
                    "permission_overwrites": [],
                    "nsfw": False,
                },
            ],
            "members": [self.member(self.bot_user)],
            "threads": list(self._threads().values()),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
        }

    def member(self, user: JSON, *, permissions: str | None = None) -> JSON:
        data: JSON = {
            "user": user,
            "roles": [],
            "joined_at": now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }
        if permissions is not None:
            data["permissions"] = permissions
        return data

    # event builders ------------------------------------------------------------------------

    def slash_command(
        self,
        name: str,
        options: list[JSON],
        *,
        at: datetime | None = None,
        dm: bool = False,
        manage_guild: bool = False,
        subcommand: str | None = None,
        autocomplete: bool = False,
        thread_id: str | None = None,
    ) -> JSON:
        """An ``INTERACTION_CREATE`` for an application command (or its autocomplete)."""
        if subcommand is not None:
            options = [{"name": subcommand, "type": 1, "options": options}]
        data: JSON = {
            "id": self.snowflake(at),
            "application_id": APP_ID,
            "type": 4 if autocomplete else 2,
            "data": {"id": "1", "name": name, "type": 1, "options": options},
            "channel_id": CHANNEL_ID,
            "token": f"tok-{next(self._ids)}",
            "version": 1,
            "locale": "en-US",
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "attachment_size_limit": 8_388_608,
            "context": 1 if dm else 0,
        }
        if dm:
            data["channel"] = {"id": "940000000000000001", "type": 1, "recipients": [self.user]}
            data["channel_id"] = data["channel"]["id"]
            data["user"] = self.user
        else:
            perms = str(int(MEMBER_PERMISSIONS) | (MANAGE_GUILD if manage_guild else 0))
            data["guild_id"] = GUILD_ID
            data["guild_locale"] = "en-US"
            data["channel"] = {
                "id": CHANNEL_ID,
                "type": 0,
                "name": "general",
                "guild_id": GUILD_ID,
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
            }
            data["member"] = self.member(self.user, permissions=perms)
            if thread_id is not None:
                data["channel_id"] = thread_id
                data["channel"] = {**self._threads()[thread_id]}
        return data

    def button_click(self, custom_id: str, message_id: str) -> JSON:
        """An ``INTERACTION_CREATE`` for a click on a button of a message we stored."""
        data = self.slash_command("unused", [])
        data["type"] = 3
        data["data"] = {"custom_id": custom_id, "component_type": 2}
        data["message"] = self._stored_message(message_id)
        return data

    def mention(self, text: str, *, channel_id: str = CHANNEL_ID) -> JSON:
        """A ``MESSAGE_CREATE`` in which the user @-mentions the bot."""
        return {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "guild_id": GUILD_ID,
            "author": self.user,
            "member": {k: v for k, v in self.member(self.user).items() if k != "user"},
            "content": f"<@{BOT_ID}> {text}",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.bot_user],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
