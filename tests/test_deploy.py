"""The deploy manifests agree with the server: ports, probe paths, valid settings."""

from __future__ import annotations

import ipaddress
import pathlib
import re

import pytest
import yaml

from proxy.app import create_app
from proxy.settings import ServerSettings, Settings, parse_settings

DEPLOY = pathlib.Path(__file__).resolve().parent.parent / "deploy"
ROUTES = {"/health", "/ready", "/v1/chat/completions", "/v1/models"}


def _docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()) if d]


def _server_routes() -> set[str]:
    app = create_app(parse_settings({}, {}))
    return {r.resource.canonical for r in app.router.routes() if r.resource is not None}


def test_routes_the_manifests_rely_on_exist() -> None:
    assert _server_routes() >= ROUTES


def test_dockerfile_port_user_and_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    port = ServerSettings().port
    assert re.search(rf"^EXPOSE {port}$", text, re.M)
    assert re.search(r"^USER \d+$", text, re.M), "runs as a non-root uid"
    health = re.search(r"HEALTHCHECK.*?CMD (.*)$", text, re.S | re.M)
    assert health and f"127.0.0.1:{port}/health" in health.group(1)
    assert '"-m", "proxy"' in text


def _gateway_containers(docs: list[dict]) -> list[dict]:
    out = []
    for d in docs:
        if d["kind"] == "Deployment":
            out += [
                c for c in d["spec"]["template"]["spec"]["containers"] if "gateway" in c["name"]
            ]
    return out


def _settings_of(name: str) -> Settings:
    env = {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"}
    [cm] = [d for d in _docs(name) if d["kind"] == "ConfigMap"]
    return parse_settings(yaml.safe_load(cm["data"]["settings.yaml"]), env)


def test_k8s_ports_and_probes_match_the_server() -> None:
    routes = _server_routes()
    for name in ("sidecar.yaml", "egress.yaml"):
        containers = _gateway_containers(_docs(name))
        assert containers, name
        for c in containers:
            for probe in ("readinessProbe", "livenessProbe"):
                if "httpGet" in c[probe]:
                    get = c[probe]["httpGet"]
                    assert get["port"] == 8787 and get["path"] in routes
                else:  # exec: python -m proxy.probe <what> --port 8787
                    cmd = c[probe]["exec"]["command"]
                    assert cmd[:3] == ["python", "-m", "proxy.probe"] and cmd[-1] == "8787"
                    assert f"/{cmd[3]}" in routes
            ready = c["readinessProbe"]
            assert ready.get("httpGet", {}).get("path") == "/ready" or "ready" in str(ready)


def test_sidecar_is_pod_local_or_requires_gateway_keys() -> None:
    """A sidecar holding provider keys must not serve them to every pod of the cluster."""
    s = _settings_of("sidecar.yaml")
    auth_on = any(m.cls.endswith("AuthMiddleware") and m.options.get("keys") for m in s.middleware)
    assert s.server.host == "127.0.0.1" or auth_on
    [c] = _gateway_containers(_docs("sidecar.yaml"))
    if s.server.host == "127.0.0.1":
        assert "ports" not in c  # nothing to expose on the pod IP


def test_egress_allowlist_names_hosts_not_internal_networks() -> None:
    s = _settings_of("egress.yaml")
    assert s.custom_hosts.allow, "an egress gateway restricts custom hosts"
    for entry in s.custom_hosts.allow:
        with pytest.raises(ValueError):
            ipaddress.ip_network(entry, strict=False)


def test_manifests_drain_before_closing() -> None:
    for name in ("sidecar.yaml", "egress.yaml"):
        s = _settings_of(name)
        assert s.server.drain_delay > 0
        [dep] = [d for d in _docs(name) if d["kind"] == "Deployment"]
        grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= s.server.drain_delay + s.server.shutdown_timeout


def test_configmap_settings_are_valid() -> None:
    env = {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"}
    for name in ("sidecar.yaml", "egress.yaml"):
        for d in _docs(name):
            if d["kind"] != "ConfigMap":
                continue
            raw = yaml.safe_load(d["data"]["settings.yaml"])
            settings = parse_settings(raw, env)
            assert settings.server.port == 8787
            create_app(settings)  # builds every middleware: bad options would raise here
