"""deploy/kubernetes cannot rot: the manifests parse, run commands the CLI accepts with
settings the node accepts, and wire probes, Service, Ingress and metrics ports together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy_files import DEPLOY, accepts, route_paths, size_in_bytes, valid_settings
from web.api.media import MAX_UPLOAD_BODY


def manifests() -> list[dict[str, Any]]:
    found = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                assert "apiVersion" in document, path.name
                assert "kind" in document, path.name
                found.append(document)
    return found


def of_kind(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        m
        for m in manifests()
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    kustomization = of_kind("Kustomization")[0]
    listed = set(kustomization["resources"])
    files = {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")}
    assert listed == files - {"kustomization.yaml", "secret.example.yaml"}
    assert {image["name"] for image in kustomization["images"]} == {"flurfunk"}


def test_kubernetes_settings_are_valid(tmp_path: Path) -> None:
    (config,) = of_kind("ConfigMap", "flurfunk-config")
    (secret,) = of_kind("Secret", "flurfunk-secrets")
    settings = {**config["data"], **secret["stringData"]}
    valid_settings(settings, tmp_path)
    # External PostgreSQL and Redis, by URL.
    assert settings["FLURFUNK_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert settings["FLURFUNK_REDIS_URL"].startswith("redis://")


@pytest.mark.parametrize(
    ("kind", "name", "command"),
    [
        ("Deployment", "flurfunk-web", "serve"),
        ("Deployment", "flurfunk-worker", "worker"),
        ("Job", "flurfunk-migrate", "migrate"),
    ],
)
def test_kubernetes_workloads_run_the_cli(kind: str, name: str, command: str) -> None:
    (workload,) = of_kind(kind, name)
    spec = pod_spec(workload)
    (container,) = spec["containers"]
    assert container["image"] == "flurfunk"
    assert accepts([*container["command"], *container.get("args", [])]).command == command
    sources = {(next(iter(ref)), next(iter(ref.values()))["name"]) for ref in container["envFrom"]}
    assert sources == {
        ("configMapRef", "flurfunk-config"),
        ("secretRef", "flurfunk-secrets"),
    }
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        assert mount["name"] in volumes, f"{name}: no volume {mount['name']}"
    ca_bundle = of_kind("ConfigMap", "flurfunk-config")[0]["data"]["FLURFUNK_CA_BUNDLE"]
    if "company-ca" in volumes:
        mount = next(m for m in container["volumeMounts"] if m["name"] == "company-ca")
        assert Path(ca_bundle).parent == Path(mount["mountPath"])


def test_web_pods_are_probed_and_reached_through_service_and_ingress() -> None:
    (web,) = of_kind("Deployment", "flurfunk-web")
    (container,) = pod_spec(web)["containers"]
    serve = accepts(container["command"])
    assert serve.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == serve.port
    paths = route_paths()
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] in paths
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"

    (service,) = of_kind("Service", "flurfunk-web")
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert service_ports["http"]["targetPort"] in ports

    (ingress,) = of_kind("Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "flurfunk-web"
    assert backend["port"]["name"] in service_ports
    assert ingress["spec"]["tls"][0]["secretName"]
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert size_in_bytes(notes[prefix + "proxy-body-size"]) >= MAX_UPLOAD_BODY
    # Streams stay open far longer than nginx's 60 s default, and pass events at once.
    assert int(notes[prefix + "proxy-read-timeout"]) >= 3600
    assert notes[prefix + "proxy-buffering"] == "off"


def test_worker_pods_are_probed_on_their_metrics_listener() -> None:
    (worker,) = of_kind("Deployment", "flurfunk-worker")
    (container,) = pod_spec(worker)["containers"]
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/livez"  # what web.metrics.listening answers besides /metrics
    assert probe["port"] in {p["name"] for p in container["ports"]}
    assert of_kind("ConfigMap", "flurfunk-config")[0]["data"]["FLURFUNK_WORKER_METRICS_LISTEN"]


def test_metrics_ports_match_the_metrics_settings() -> None:
    data = of_kind("ConfigMap", "flurfunk-config")[0]["data"]
    for name, key in (
        ("flurfunk-web", "FLURFUNK_METRICS_LISTEN"),
        ("flurfunk-worker", "FLURFUNK_WORKER_METRICS_LISTEN"),
    ):
        (workload,) = of_kind("Deployment", name)
        (container,) = pod_spec(workload)["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        host, _, port = data[key].rpartition(":")
        assert host == "0.0.0.0"
        assert ports["metrics"] == int(port)
        notes = workload["spec"]["template"]["metadata"]["annotations"]
        assert notes["prometheus.io/port"] == port
