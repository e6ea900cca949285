"""Secrets: password hashing (Argon2id), opaque tokens, CSRF tokens; the pages' CSP."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second recommendation
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    """32 random bytes, URL-safe: join links and session tokens."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: bytes, session_token_hash: str) -> str:
    """Bound to the session, so it needs no storage and dies with the session."""
    return hmac.new(secret, b"csrf:" + session_token_hash.encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: bytes, session_token_hash: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(secret, session_token_hash), presented)


@functools.cache
def csp(public_url: str) -> str:
    """The Content-Security-Policy of every response.

    Scripts, styles and everything else come only from this server, and no script runs
    inline (the pages' data travels in ``<script type="application/json">``, which is never
    executed): an injected ``<script>`` or ``onclick=`` does nothing. No page of ours may be
    framed by another site (``frame-ancestors``), above all one where a party signs, which a
    frame could overlay to make them click something else. Nothing is sent by forms
    elsewhere, and no ``<base>`` can move where relative addresses lead.

    ``connect-src`` names the signalling WebSocket's origin besides ``'self'``: CSP 3 lets
    ``'self'`` match ws:/wss: on the page's own host (Chromium, Firefox), but older Safari,
    still on many parties' iPhones, does not. The room plays its media from MediaStreams
    (``srcObject``, which no fetch directive governs) and recordings from this server.
    """
    parts = urlsplit(public_url)
    socket = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'self'",
            f"connect-src 'self' {socket}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
