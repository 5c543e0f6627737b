"""Where discord.py sends its REST calls and opens its gateway.

discord.py has no per-client setting for either: the REST base is the class attribute
``Route.BASE`` and the first gateway connection uses ``DiscordWebSocket.DEFAULT_GATEWAY`` (later
resumes follow READY's ``resume_gateway_url``). A process talks to one Discord, so redirecting
both once at start-up is the supported shape; tests point them at a loopback fake.
"""

from __future__ import annotations

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

__all__ = ["DISCORD_API_URL", "DISCORD_GATEWAY_URL", "point_at"]

DISCORD_API_URL = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


def point_at(api_url: str | None = None, gateway_url: str | None = None) -> None:
    """Send discord.py's REST calls to ``api_url`` and its gateway to ``gateway_url``.

    ``None`` restores Discord's own endpoints. ``api_url`` includes the version
    (``.../api/v10``)."""
    Route.BASE = (api_url or DISCORD_API_URL).rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY_URL)
