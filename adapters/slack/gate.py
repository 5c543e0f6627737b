"""The front door of ``/slack/events``: junk gets a short 4xx before bolt sees it.

Bolt parses a request's body (JSON or form) while building its request object, before its
middleware verifies the signature, and trusts what it parsed; its verifier then calls
``int()`` on the timestamp header. So a body that is not UTF-8, a timestamp that is not a
number, a non-ASCII signature, or a body that is not a JSON object each raised inside aiohttp or
bolt: HTTP 500 and a logged traceback, for anyone, signature or not. ``RequestGate.admit``
checks, in this order, doing at most one HMAC of work for a refused request:

1. the body is UTF-8 (Slack's always are)                                   → 400
2. the timestamp is a plain integer, the signature ASCII, and the signature
   matches within five minutes (slack_sdk's ``SignatureVerifier``)           → 401
3. bolt can build its request from the signed body (a JSON object)          → 400

Only then does bolt get the request (and verifies it again: one more HMAC of a small body,
kept so the app is never served unverified by another route). No body is parsed, and nothing
but a short reason is logged, for a request whose signature does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier

__all__ = ["Refused", "RequestGate"]

_TIMESTAMP = "X-Slack-Request-Timestamp"
_SIGNATURE = "X-Slack-Signature"
_TIMESTAMP_DIGITS = 12
"""Unix seconds fit in 11 digits until the year 5138; ``int()`` refuses over 4,300."""


@dataclass(frozen=True)
class Refused:
    """An HTTP status and a short reason, safe to log and to answer with."""

    status: int
    reason: str


_NOT_UTF8 = Refused(400, "body is not UTF-8")
_UNSIGNED = Refused(401, "missing, stale or invalid signature")
_NO_SECRET = Refused(401, "no signing secret is configured")
_NOT_SLACK = Refused(400, "signed body is not a Slack payload")


class RequestGate:
    """Checks a raw request before bolt: ``admit`` returns bolt's request or a ``Refused``."""

    def __init__(self, signing_secret: str, *, clock: Clock | None = None) -> None:
        # Socket Mode runs without a signing secret; then no HTTP request can be verified.
        self._verifier = (
            SignatureVerifier(signing_secret, clock or Clock()) if signing_secret.strip() else None
        )

    def admit(
        self, body: bytes, headers: Mapping[str, str], query: str
    ) -> AsyncBoltRequest | Refused:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _NOT_UTF8
        if self._verifier is None:
            return _NO_SECRET
        timestamp = headers.get(_TIMESTAMP, "")
        signature = headers.get(_SIGNATURE, "")
        if not (
            0 < len(timestamp) <= _TIMESTAMP_DIGITS
            and timestamp.isdigit()
            and signature.isascii()
            and self._verifier.is_valid(text, timestamp, signature)
        ):
            return _UNSIGNED
        try:
            return AsyncBoltRequest(body=text, query=query, headers=headers)  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError, LookupError):
            # json.loads failed, or the JSON is not an object, or one of its fields is not
            # the type bolt reads it as: not something Slack sends.
            return _NOT_SLACK
