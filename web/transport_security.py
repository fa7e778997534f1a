"""Under an https PUBLIC_URL: HSTS on every answer, and no password or code ever exchanged
over plain HTTP (a request that reached the node unencrypted, not through a trusted TLS
proxy: uvicorn sets the scheme from X-Forwarded-Proto only for TRUSTED_PROXIES)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000"
# Where a password, an authorization code or a new account's password travels.
SIGN_IN_PATHS = ("/oauth/token", "/oauth/authorize", "/api/v1/accounts")
SIGN_IN_PREFIXES = ("/auth/",)


def signs_in(method: str, path: str) -> bool:
    return method == "POST" and (path in SIGN_IN_PATHS or path.startswith(SIGN_IN_PREFIXES))


class TransportSecurityMiddleware:
    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.https = public_url.startswith("https:")
        self.refusal = json.dumps(
            {"error": f"Sign-ins need HTTPS: use {public_url}, this request came over plain HTTP"}
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.https:
            await self.app(scope, receive, send)
            return
        if scope.get("scheme") == "http" and signs_in(scope["method"], scope["path"]):
            await self._refuse(send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"strict-transport-security" for name, _ in headers):
                    headers.append((b"strict-transport-security", HSTS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_hsts)

    async def _refuse(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.refusal)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.refusal})
