"""The few Discord REST calls a responder makes, through discord.py's rate-limited HTTP client.

Why not discord.py's ``Webhook``/``Message`` objects: a worker answers jobs from any process with
only ids and an interaction token, and must set ``allowed_mentions`` and ``flags`` exactly; plain
JSON payloads through ``HTTPClient.request`` keep those explicit while discord.py still handles
rate-limit buckets and retries. Errors surface as ``discord.HTTPException`` (``status``,
``code``), which the responder turns into fallbacks.
"""

from __future__ import annotations

from typing import Any

import discord
from discord.http import HTTPClient, Route

__all__ = [
    "INVALID_WEBHOOK_TOKEN",
    "MISSING_ACCESS",
    "MISSING_PERMISSIONS",
    "UNKNOWN_WEBHOOK",
    "DiscordRest",
    "Payload",
    "is_token_error",
]

Payload = dict[str, Any]

UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
INVALID_WEBHOOK_TOKEN = 50027
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013


def is_token_error(exc: discord.HTTPException) -> bool:
    """The interaction token is expired or unknown: answer in the channel instead."""
    return exc.code in (UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION, INVALID_WEBHOOK_TOKEN) or (
        exc.status == 401
    )


class DiscordRest:
    """Message, webhook and thread calls by id. Every method returns Discord's JSON object."""

    def __init__(self, http: HTTPClient) -> None:
        self._http = http

    async def _call(self, route: Route, payload: Payload | None = None, **params: str) -> Payload:
        kwargs: dict[str, Any] = {}
        if payload is not None:
            kwargs["json"] = payload
        if params:
            kwargs["params"] = params
        data = await self._http.request(route, **kwargs)
        return data if isinstance(data, dict) else {}

    async def edit_original(self, app_id: str, token: str, payload: Payload) -> Payload:
        route = Route(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            webhook_id=app_id,
            webhook_token=token,
        )
        return await self._call(route, payload)

    async def followup(self, app_id: str, token: str, payload: Payload) -> Payload:
        route = Route(
            "POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=app_id, webhook_token=token
        )
        return await self._call(route, payload, wait="true")

    async def edit_followup(
        self, app_id: str, token: str, message_id: str, payload: Payload
    ) -> Payload:
        route = Route(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            webhook_id=app_id,
            webhook_token=token,
            message_id=message_id,
        )
        return await self._call(route, payload)

    async def send(self, channel_id: str, payload: Payload) -> Payload:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        return await self._call(route, payload)

    async def edit(self, channel_id: str, message_id: str, payload: Payload) -> Payload:
        route = Route(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        return await self._call(route, payload)

    async def start_thread(self, channel_id: str, message_id: str, name: str) -> Payload:
        route = Route(
            "POST",
            "/channels/{channel_id}/messages/{message_id}/threads",
            channel_id=channel_id,
            message_id=message_id,
        )
        return await self._call(route, {"name": name[:100], "auto_archive_duration": 1440})

    async def send_dm(self, user_id: str, payload: Payload) -> Payload:
        """Open (or reuse) the DM channel with ``user_id`` and post there."""
        channel = await self._call(Route("POST", "/users/@me/channels"), {"recipient_id": user_id})
        return await self.send(str(channel["id"]), payload)
