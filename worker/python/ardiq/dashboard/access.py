"""Who may act. The dashboard is read-only unless it was started with
actions allowed and a token; then replay, delete, abort and purge need the
token: signed in once through the sign-in form (an HttpOnly, SameSite=Strict
cookie holds a digest of it), or sent as `Authorization: Bearer TOKEN`.
An action from another site's page is refused whatever it carries."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "ardiq_dashboard"


class Forbidden(Exception):
    """An action that may not run; the page says why, with status 403."""


class Access:
    """The actions policy of one dashboard."""

    def __init__(self, allow_actions: bool, token: str | None) -> None:
        if allow_actions and not token:
            raise ValueError("actions need a token: give one, or leave actions off")
        self.allow_actions = allow_actions
        self._token = token or ""
        self._session = (
            hmac.new(self._token.encode(), b"ardiq-dashboard-session", hashlib.sha256).hexdigest()
            if token
            else ""
        )

    def session_for(self, token: str) -> str | None:
        """The cookie value for a right token, None for a wrong one."""
        if not self.allow_actions or not hmac.compare_digest(token.encode(), self._token.encode()):
            return None
        return self._session

    def signed_in(self, request: Request) -> bool:
        """Whether the request carries the token (or the session cookie)."""
        if not self.allow_actions:
            return False
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self._token.encode()
        ):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session.encode())

    def check(self, request: Request) -> None:
        """Raises `Forbidden` unless this request may run an action."""
        if not self.allow_actions:
            raise Forbidden("this dashboard is read-only: start it with --allow-actions and a token to act")
        if cross_site(request):
            raise Forbidden("actions are accepted only from the dashboard's own pages")
        if not self.signed_in(request):
            raise Forbidden("this action needs the dashboard's token: sign in first")


def cross_site(request: Request) -> bool:
    """Whether the browser says the request comes from another site's page."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc != request.headers.get("host", "")
