"""Fake AWS credential services: STS, the container credentials endpoint and IMDSv2.

- STS (``POST /``, the Query protocol as the STS API reference documents it):
  ``Action=AssumeRole`` must be SigV4-signed (service ``sts``) with a key pair the fake
  knows; ``Action=AssumeRoleWithWebIdentity`` is unsigned and must carry the expected web
  identity token. Both answer ``<...Response><...Result><Credentials>`` XML; errors are
  ``<ErrorResponse><Error><Code>`` with 403. The parameters of each call are recorded, so
  tests check that RoleArn, ExternalId and RoleSessionName arrived.
- Container credentials (``GET /ecs/credentials``, what AWS_CONTAINER_CREDENTIALS_FULL_URI
  names): ``{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}``, checking the
  ``Authorization`` header when a container token is expected.
- IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT): ``PUT /latest/api/token`` with a TTL header
  gives a session token that every ``GET /latest/meta-data/iam/security-credentials/[role]``
  must carry (``X-aws-ec2-metadata-token``); the role's credentials in IMDS's JSON.

Every key pair handed out is also given to the Bedrock mock (``bedrock_keys``), which
verifies SigV4 against the keys it knows, and to the log scan (``SECRETS``).
``test_fake_aws.py`` proves the fake with boto3 and botocore's own providers.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from tests.conftest import SECRETS
from tests.providers.bedrock.mock import _AUTH

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ROLE = "gateway-role"
WEB_SUBJECT = "system:serviceaccount:llm:gateway"


class FakeAws:
    def __init__(
        self,
        bedrock_keys: dict[str, tuple[str, str | None]],
        known: dict[str, tuple[str, str | None]] | None = None,
        lifetime: int = 3600,
    ) -> None:
        self.bedrock_keys = bedrock_keys
        self.known = known or {}  # key pairs that may sign an AssumeRole
        self.lifetime = lifetime
        self.web_token: str | None = None
        self.container_token: str | None = None
        self.sts_calls: list[dict[str, str]] = []
        self.container_hits = 0
        self.imds_hits: list[str] = []
        self.issued: list[str] = []  # access key ids, in order
        self._imds_tokens: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.sts)
        app.router.add_get("/ecs/credentials", self.container)
        app.router.add_put("/latest/api/token", self.imds_token)
        app.router.add_get("/latest/meta-data/iam/security-credentials/{role:.*}", self.imds)
        return app

    def _issue(self) -> dict[str, str]:
        key_id = f"ASIAFAKE{len(self.issued):08d}"
        secret, token = secrets.token_urlsafe(30), "FwoFAKE" + secrets.token_urlsafe(60)
        self.issued.append(key_id)
        self.bedrock_keys[key_id] = (secret, token)
        SECRETS.extend([secret, token])
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.lifetime)
        return {
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "Token": token,
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    # ------------------------------------------------------------ STS

    async def sts(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form = {k: str(v) for k, v in (await request.post()).items()}
        action = form.get("Action", "")
        call = {"Action": action, **{k: form[k] for k in form if k != "Action"}}
        if action == "AssumeRole":
            signer = self._signer(request, raw)
            if signer is None:
                return sts_error("InvalidClientTokenId", "The security token is invalid.")
            call["SignedBy"] = signer
        elif action == "AssumeRoleWithWebIdentity":
            if self.web_token is None or form.get("WebIdentityToken") != self.web_token:
                return sts_error("InvalidIdentityToken", "Couldn't verify the token.")
        else:
            return sts_error("InvalidAction", f"Could not find operation {action}", 400)
        self.sts_calls.append(call)
        creds = self._issue()
        session = form.get("RoleSessionName", "")
        role = form.get("RoleArn", "").rpartition("/")[2]
        account = form.get("RoleArn", "::::000000000000").split(":")[4]
        user = (
            f"<AssumedRoleUser><AssumedRoleId>AROAFAKE:{escape(session)}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{account}:assumed-role/{escape(role)}/{escape(session)}</Arn>"
            "</AssumedRoleUser>"
        )
        extra = f"<SubjectFromWebIdentityToken>{WEB_SUBJECT}</SubjectFromWebIdentityToken>"
        body = (
            f'<{action}Response xmlns="{NS}"><{action}Result>'
            f"<Credentials><AccessKeyId>{creds['AccessKeyId']}</AccessKeyId>"
            f"<SecretAccessKey>{creds['SecretAccessKey']}</SecretAccessKey>"
            f"<SessionToken>{creds['Token']}</SessionToken>"
            f"<Expiration>{creds['Expiration']}</Expiration></Credentials>{user}"
            f"{extra if action == 'AssumeRoleWithWebIdentity' else ''}"
            f"</{action}Result><ResponseMetadata><RequestId>{secrets.token_hex(8)}"
            f"</RequestId></ResponseMetadata></{action}Response>"
        )
        return web.Response(text=body, content_type="text/xml")

    def _signer(self, request: web.Request, body: bytes) -> str | None:
        """The access key id whose SigV4 signature (service sts) checks out, else None."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        m = _AUTH.match(request.headers.get("Authorization", ""))
        if m is None or m["service"] != "sts" or m["key"] not in self.known:
            return None
        secret, token = self.known[m["key"]]
        if token is not None and request.headers.get("X-Amz-Security-Token") != token:
            return None
        headers = {h: request.headers[h] for h in m["signed"].split(";")}
        aws = AWSRequest(
            method="POST",
            url=f"http://{request.host}{request.raw_path}",
            data=body,
            headers=headers,
        )
        aws.context["timestamp"] = request.headers["X-Amz-Date"]
        signer = SigV4Auth(Credentials(m["key"], secret, token), "sts", m["region"])
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
        return str(m["key"]) if expected == m["sig"] else None

    # ------------------------------------------------------------ container and IMDS

    async def container(self, request: web.Request) -> web.Response:
        self.container_hits += 1
        if self.container_token and request.headers.get("Authorization") != self.container_token:
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({**self._issue(), "RoleArn": f"arn:aws:iam::1:role/{ROLE}"})

    async def imds_token(self, request: web.Request) -> web.Response:
        self.imds_hits.append("PUT " + request.path)
        if "X-aws-ec2-metadata-token-ttl-seconds" not in request.headers:
            return web.Response(status=400)
        token = secrets.token_urlsafe(24)
        self._imds_tokens.add(token)
        return web.Response(text=token)

    async def imds(self, request: web.Request) -> web.Response:
        self.imds_hits.append("GET " + request.path)
        if request.headers.get("X-aws-ec2-metadata-token") not in self._imds_tokens:
            return web.Response(status=401)
        role = request.match_info["role"]
        if not role:
            return web.Response(text=ROLE)
        if role != ROLE:
            return web.Response(status=404)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer: dict[str, Any] = {"Code": "Success", "LastUpdated": now, "Type": "AWS-HMAC"}
        return web.json_response({**answer, **self._issue()})


def sts_error(code: str, message: str, status: int = 403) -> web.Response:
    body = (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
    )
    return web.Response(text=body, status=status, content_type="text/xml")
