"""Fusion on Discord: the gateway bot, its app commands and buttons, and the responder.

Public API::

    point_at(api_url, gateway_url)            redirect discord.py (tests, proxies)
    DiscordStore(redis)                       the adapter's Redis keys (results, posted ids…)
    Intake(service, config, store)            question → FusionRequest + ReplyTarget → submit
    FusionBot(intake, sync_commands=True)     the discord.Client (commands, buttons, mentions)
    DiscordRest(http)                         REST calls by id through discord.py's HTTPClient
    DiscordResponder(rest, store, ...)        renders events/results/errors for a FusionJob
    open_responder(token, store)              async context: a responder for a worker process
"""

from adapters.discord.bot import FusionBot, intents
from adapters.discord.connection import point_at
from adapters.discord.intake import Intake
from adapters.discord.responder import DiscordResponder, open_responder
from adapters.discord.rest import DiscordRest
from adapters.discord.store import DiscordStore

__all__ = [
    "DiscordResponder",
    "DiscordRest",
    "DiscordStore",
    "FusionBot",
    "Intake",
    "intents",
    "open_responder",
    "point_at",
]
