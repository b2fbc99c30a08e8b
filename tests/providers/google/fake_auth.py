"""Fake Google credential servers: the OAuth 2.0 token endpoint and the GCE metadata server.

Token endpoint (``POST /token``), as Google documents the service-account flow
("Using OAuth 2.0 for Server to Server Applications"): a form with
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and ``assertion=<JWT>``; the JWT
is RS256-signed by the service account's private key, ``iss`` is its ``client_email``,
``aud`` Google's token endpoint (``https://oauth2.googleapis.com/token``, whoever serves
it), ``scope`` the scopes, ``iat``/``exp`` at most an hour apart. The
signature is verified with the public key of the account that ``iss`` names; the answer is
``{"access_token", "expires_in", "token_type": "Bearer"}``, an error
``{"error": "invalid_grant", ...}`` with 400.

Metadata server (``GCE_METADATA_HOST`` / ``GCE_METADATA_IP`` point google-auth here): every
request must carry ``Metadata-Flavor: Google`` and every answer does; ``/`` is the ping,
``/computeMetadata/v1/instance/service-accounts/default/`` the account (``?recursive=true``),
``.../token`` its token, ``/computeMetadata/v1/project/project-id`` the project.

Every token issued is added to ``issued``; give that set to ``MockGemini(tokens=...)`` so
Vertex accepts only these. ``test_fake_auth.py`` proves both with google-auth itself.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from functools import cache
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import SECRETS

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # the JWT's aud, whoever serves it
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
PROJECT = "proj-from-key"
MDS_EMAIL = "gateway@proj-mds.iam.gserviceaccount.com"
MDS_PROJECT = "proj-mds"


@cache
def private_key(n: int = 0) -> rsa.RSAPrivateKey:
    """Test keys, made once per run (n tells them apart)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    lines = text.splitlines()
    for line in (lines[5], lines[12]):  # lines of the key: never in a log line
        if line not in SECRETS:
            SECRETS.append(line)
    return text


def service_account(
    token_uri: str, email: str = "sa@proj.iam.gserviceaccount.com", n: int = 0
) -> dict[str, str]:
    """A service-account key file's content (the fields Google writes)."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": f"kid-{n}",
        "private_key": pem(private_key(n)),
        "client_email": email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FakeGoogle:
    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.accounts: dict[str, rsa.RSAPublicKey] = {}  # client_email -> public key
        self.issued: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []  # JWT claims of each token request
        self.metadata_requests: list[str] = []

    def register(self, email: str, n: int = 0) -> None:
        self.accounts[email] = private_key(n).public_key()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_get("/", self.ping)
        app.router.add_get("/computeMetadata/v1/{path:.*}", self.metadata)
        return app

    def _new_token(self) -> str:
        token = f"ya29.fake-{len(self.issued)}-{secrets.token_urlsafe(16)}"
        self.issued.add(token)
        SECRETS.append(token)
        return token

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        claims = self._verify(str(form.get("grant_type", "")), str(form.get("assertion", "")))
        if isinstance(claims, str):
            return web.json_response(
                {"error": "invalid_grant", "error_description": claims}, status=400
            )
        self.token_requests.append(claims)
        return web.json_response(
            {"access_token": self._new_token(), "expires_in": self.lifetime, "token_type": "Bearer"}
        )

    def _verify(self, grant: str, assertion: str) -> dict[str, Any] | str:
        """The JWT's claims, or why it is refused."""
        if grant != JWT_BEARER:
            return "Invalid grant_type."
        try:
            head, body, sig = assertion.split(".")
            header, claims = json.loads(_b64(head)), json.loads(_b64(body))
        except ValueError:
            return "Invalid JWT."
        key = self.accounts.get(claims.get("iss", ""))
        if header.get("alg") != "RS256" or key is None:
            return "Invalid JWT: unknown issuer."
        try:
            key.verify(_b64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("aud") != GOOGLE_TOKEN_URI:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        if (
            not (now - 300 <= claims.get("iat", 0) <= now + 300)
            or claims["exp"] - claims["iat"] > 3600
        ):
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
            return "Invalid scope."
        return dict(claims)

    # ------------------------------------------------------------ metadata server

    def _flavored(self, request: web.Request) -> bool:
        self.metadata_requests.append(request.path_qs)
        return request.headers.get("Metadata-Flavor") == "Google"

    async def ping(self, request: web.Request) -> web.Response:
        if not self._flavored(request):
            return web.Response(status=403)
        return web.Response(text="", headers={"Metadata-Flavor": "Google"})

    async def metadata(self, request: web.Request) -> web.Response:
        if not self._flavored(request):
            return web.Response(status=403, text="Missing Metadata-Flavor:Google header.")
        path = request.match_info["path"]
        flavor = {"Metadata-Flavor": "Google"}
        account = "instance/service-accounts/default/"
        if path == account:
            body = {"aliases": ["default"], "email": MDS_EMAIL, "scopes": [CLOUD_PLATFORM]}
            return web.json_response(body, headers=flavor)
        if path == account + "token":
            token = {
                "access_token": self._new_token(),
                "expires_in": self.lifetime,
                "token_type": "Bearer",
            }
            return web.json_response(token, headers=flavor)
        if path == account + "email":
            return web.Response(text=MDS_EMAIL, headers=flavor)
        if path == "project/project-id":
            return web.Response(text=MDS_PROJECT, headers=flavor)
        if path == "universe/universe-domain":
            return web.Response(text="googleapis.com", headers=flavor)
        return web.Response(status=404, headers=flavor)
