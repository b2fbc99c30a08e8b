"""The admin API on a real gateway: keys made, used, changed, rotated and revoked."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.quota.helpers import MSG, client, settings, settled

ADMIN = "admin-test-key-0004"
H = {"authorization": f"Bearer {ADMIN}"}


def admin_settings(upstream: str, **extra) -> dict:
    return settings(upstream, [], admin={"keys": [ADMIN]}, **extra)


def test_create_use_update_rotate_revoke(make_gateway, mock_openai, logs) -> None:
    _, upstream = mock_openai
    gw = make_gateway(admin_settings(upstream.url))
    with httpx.Client(base_url=gw.url, headers=H, timeout=10) as a:
        r = a.post(
            "/admin/keys",
            json={
                "name": "billing",
                "team": "fin",
                "rpm": 3,
                "models": ["gpt-4o*"],
                "metadata": {"owner": "ann"},
            },
        )
        assert r.status_code == 201, r.text
        made = r.json()
        secret, kid = made["key"], made["id"]
        assert secret.startswith("gwk-") and len(secret) > 40
        assert made["team"] == "fin" and made["status"] == "active"
        assert r.headers["cache-control"] == "no-store"
        listed = a.get("/admin/keys").json()["data"]
        assert [k["id"] for k in listed] == [kid]
        assert "key" not in listed[0] and "digest" not in listed[0]
        assert secret not in a.get(f"/admin/keys/{kid}").text

        c = client(gw, secret)
        assert c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG).choices
        with pytest.raises(openai.PermissionDeniedError) as info:
            c.chat.completions.create(model="@main/o3", messages=MSG)
        assert info.value.body["code"] == "model_not_allowed"  # type: ignore[index]

        r = a.patch(f"/admin/keys/{kid}", json={"models": [], "rpm": 10})
        assert r.status_code == 200 and r.json()["rpm"] == 10 and r.json()["team"] == "fin"
        time.sleep(0.6)  # past the key cache
        assert c.chat.completions.create(model="@main/o3", messages=MSG).choices

        usage = a.get(f"/admin/keys/{kid}/usage").json()
        # the refused one counted too: a request, whatever its outcome
        assert usage["requests_in_window"] == 3 and usage["in_flight"] == 0

        r = a.post(f"/admin/keys/{kid}/rotate")
        new_secret = r.json()["key"]
        assert new_secret != secret
        time.sleep(0.6)
        with pytest.raises(openai.AuthenticationError):
            c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
        c = client(gw, new_secret)
        assert c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG).choices

        assert a.post(f"/admin/keys/{kid}/revoke").json()["status"] == "revoked"
        t0 = time.monotonic()
        while True:  # a revoke holds within the key cache time (0.5 s)
            try:
                c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
            except openai.AuthenticationError:
                break
            assert time.monotonic() - t0 < 1.0
            time.sleep(0.05)
        assert a.post(f"/admin/keys/{kid}/rotate").status_code == 409
    settled(gw)
    text = str(logs())
    assert secret not in text and new_secret not in text


def test_settings_keys_are_listed_read_only(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    raw = settings(
        upstream.url, [{"key": "gw-test-key-0002", "name": "ci", "rpm": 5}], admin={"keys": [ADMIN]}
    )
    gw = make_gateway(raw)
    with httpx.Client(base_url=gw.url, headers=H, timeout=10) as a:
        [k] = a.get("/admin/keys").json()["data"]
        assert (k["id"], k["source"], k["rpm"]) == ("ci", "settings", 5)
        assert a.patch("/admin/keys/ci", json={"rpm": 1}).status_code == 409
        assert a.get("/admin/keys/ci/usage").status_code == 200


def test_expired_keys_fail(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway(admin_settings(upstream.url))
    with httpx.Client(base_url=gw.url, headers=H, timeout=10) as a:
        made = a.post(
            "/admin/keys", json={"name": "old", "expires_at": "2001-01-01T00:00:00Z"}
        ).json()
        assert made["status"] == "expired"
    with pytest.raises(openai.AuthenticationError) as info:
        client(gw, made["key"]).chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    assert info.value.body["code"] == "expired_gateway_key"  # type: ignore[index]


def test_no_admin_key_no_admin_api(make_gateway) -> None:
    gw = make_gateway({})
    r = httpx.get(gw.url + "/admin/keys", headers=H)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
