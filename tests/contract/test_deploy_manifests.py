"""Contract checks for deploy/k8s and observability/: parsed and cross-checked, no cluster needed.

These stand in for `kubectl apply --dry-run` and `promtool check rules`, which the development
machines do not have: they pin the facts the services rely on (ports, probes, budgets, security
settings) and keep alerts, runbooks and the dashboard consistent with the metrics the code exports.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from libs import metrics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OBSERVABILITY = ROOT / "observability"
ALERTS = OBSERVABILITY / "prometheus" / "alerts.yaml"
RUNBOOKS = OBSERVABILITY / "runbooks.md"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "shotgraph-overview.json"

SERVICES = ("gateway", "auth", "canvas", "batch", "render", "image", "fanout")
IMAGE = "ghcr.io/shotgraph/shotgraph:latest"


def _exported_metrics() -> tuple[frozenset[str], frozenset[str]]:
    """(histograms, every metric name a query may use): read from libs.metrics itself, so a
    new metric needs no second list here. Counters are queried with their ``_total``."""
    histograms, names = set(), {"up"}  # plus Prometheus' own `up`
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            else:
                names.add(family.name)
            if family.type == "histogram":
                histograms.add(family.name)
    return frozenset(histograms), frozenset(names)


HISTOGRAMS, KNOWN_METRICS = _exported_metrics()


# --- helpers -----------------------------------------------------------------------------------


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.iterdir() if p.suffix in {".yaml", ".yml"})


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in _manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path, doc))
    return docs


def _objects() -> dict[tuple[str, str], dict[str, Any]]:
    """Kubernetes objects by (kind, name); the kustomization itself is not one."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path, doc in _documents():
        if doc.get("kind") == "Kustomization":
            continue
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in objects, f"{path.name}: duplicate {key}"
        objects[key] = doc
    return objects


def _deployments() -> list[dict[str, Any]]:
    return [obj for (kind, _), obj in _objects().items() if kind == "Deployment"]


def _alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text())
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def _runbook_anchors() -> set[str]:
    """GitHub-style anchors of the Markdown headings (outside fenced code blocks)."""
    anchors = set()
    in_fence = False
    for line in RUNBOOKS.read_text().splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        match = re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match and not in_fence:
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:$.])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*,")


def _metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects; histogram series are reduced to their family.

    Label matchers, range selectors, string literals and grouping clauses are dropped first, so
    what remains is functions (an identifier followed by "("), keywords and metric names.
    """
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for name, call in _IDENTIFIER.findall(text):
        if call or name.lower() in _KEYWORDS:
            continue
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
                name = name.removesuffix(suffix)
        names.add(name)
    return names


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _dashboard_queries() -> list[str]:
    dashboard = _dashboard()
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = _LABEL_VALUES.match(query)
        queries.append(match.group(1) if match else query)
    return queries


# --- deploy/k8s ---------------------------------------------------------------------------------


def test_every_manifest_parses_into_kubernetes_objects() -> None:
    files = _manifest_files()
    assert files, "no manifests in deploy/k8s"
    for path, doc in _documents():
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
        assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: apiVersion/kind missing"
        if doc["kind"] != "Kustomization":
            assert doc.get("metadata", {}).get("name"), f"{path.name}: {doc['kind']} has no name"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    on_disk = {p.name for p in _manifest_files()} - {"kustomization.yaml"}
    assert set(listed) == on_disk


def test_each_service_has_deployment_service_hpa_and_pdb() -> None:
    objects = _objects()
    for service in SERVICES:
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert (kind, service) in objects, f"{service}: no {kind}"
    assert ("Namespace", "shotgraph") in objects
    assert ("ConfigMap", "shotgraph-config") in objects


def test_every_object_lives_in_the_shotgraph_namespace() -> None:
    for (kind, name), obj in _objects().items():
        if kind != "Namespace":
            assert obj["metadata"].get("namespace") == "shotgraph", f"{kind}/{name}"


def test_backend_secret_is_not_applied_over_real_credentials() -> None:
    # The example Secret in config.yaml is a comment: applying it would clobber the real one.
    assert not [key for key in _objects() if key[0] == "Secret"]


def test_deployment_containers_meet_the_budget_probe_and_security_contract() -> None:
    deployments = _deployments()
    assert {d["metadata"]["name"] for d in deployments} == set(SERVICES)
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext", {})
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = container.get("securityContext", {})
            resources = container["resources"]

            assert container["image"] == IMAGE, where
            assert container["command"] == ["python", "-m", f"services.{name}", "--workers", "4"]
            assert resources["requests"]["cpu"] == "1", where
            assert resources["limits"]["cpu"] == "4", where
            assert resources["requests"]["memory"] == "512Mi", where
            expected_memory = "4Gi" if name in {"render", "image"} else "2Gi"
            assert resources["limits"]["memory"] == expected_memory, where

            probes = {
                kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
                for kind in ("startupProbe", "readinessProbe", "livenessProbe")
            }
            assert probes == {
                "startupProbe": ("/healthz", "admin"),
                "readinessProbe": ("/readyz", "admin"),
                "livenessProbe": ("/healthz", "admin"),
            }, where
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert ports == {"http": 8080, "admin": 9090, "grpc": 50051}, where

            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            if name != "render":  # render's bwrap exception is documented in render.yaml
                profile = security.get("seccompProfile", pod_security.get("seccompProfile"))
                assert profile == {"type": "RuntimeDefault"}, where

            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: no writable /tmp"
            assert "emptyDir" in volumes[mounts["/tmp"]], where

            env_from = {next(iter(ref.values()))["name"] for ref in container.get("envFrom", [])}
            assert env_from == {"shotgraph-config", "shotgraph-backends"}, where
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env["OTEL_SERVICE_NAME"] == name, where


def test_the_services_bind_the_ports_the_manifests_name() -> None:
    config = _objects()["ConfigMap", "shotgraph-config"]["data"]
    bound = {name: int(config[f"SHOTGRAPH_{name.upper()}_PORT"]) for name in ("http", "admin")}
    for deployment in _deployments():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert {name: ports[name] for name in bound} == bound, deployment["metadata"]["name"]


def test_shutdown_fits_in_the_termination_grace_period() -> None:
    for deployment in _deployments():
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == (120 if name == "render" else 30), name
        for container in pod["containers"]:
            pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
            assert pre_stop == 5, name
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            drain = float(env["SHOTGRAPH_SHUTDOWN_GRACE_S"])
            assert pre_stop + drain < pod["terminationGracePeriodSeconds"], name


def test_services_hpas_and_pdbs_match_their_deployment() -> None:
    objects = _objects()
    for name in SERVICES:
        pod_labels = objects["Deployment", name]["spec"]["template"]["metadata"]["labels"]

        service = objects["Service", name]["spec"]
        assert service["selector"].items() <= pod_labels.items(), name
        ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["ports"]}
        assert ports == {
            "http": (8080, "http"),
            "admin": (9090, "admin"),
            "grpc": (50051, "grpc"),
        }, name

        hpa = objects["HorizontalPodAutoscaler", name]
        assert hpa["apiVersion"] == "autoscaling/v2", name
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10), name
        [metric] = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu", name
        assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}

        pdb = objects["PodDisruptionBudget", name]["spec"]
        assert pdb["minAvailable"] == 1, name
        assert pdb["selector"]["matchLabels"].items() <= pod_labels.items(), name


def test_only_the_gateway_is_public_and_sse_is_not_buffered() -> None:
    ingresses = [obj for (kind, _), obj in _objects().items() if kind == "Ingress"]
    assert len(ingresses) == 1
    [ingress] = ingresses
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600
    backends = {
        (path["backend"]["service"]["name"], path["backend"]["service"]["port"].get("name"))
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {("gateway", "http")}  # never "admin": operations stay inside
    for (kind, name), obj in _objects().items():
        if kind == "Service":
            assert obj["spec"].get("type", "ClusterIP") == "ClusterIP", name


def test_service_monitor_scrapes_every_service() -> None:
    objects = _objects()
    [monitor] = [obj for (kind, _), obj in objects.items() if kind == "ServiceMonitor"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("admin", "/metrics")
    for name in SERVICES:
        labels = objects["Service", name]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


# --- observability/ -----------------------------------------------------------------------------


def test_every_observability_yaml_parses() -> None:
    files = sorted([*OBSERVABILITY.rglob("*.yaml"), *OBSERVABILITY.rglob("*.yml")])
    assert files
    for path in files:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_local_prometheus_loads_the_rules_and_file_sd_targets() -> None:
    config = yaml.safe_load((OBSERVABILITY / "prometheus" / "prometheus.yml").read_text())
    assert "alerts.yaml" in config["rule_files"]
    file_sd = [
        name
        for job in config["scrape_configs"]
        for sd in job.get("file_sd_configs", [])
        for name in sd["files"]
    ]
    assert "targets.json" in file_sd


def test_every_alert_rule_is_complete_and_has_a_runbook() -> None:
    rules = _alert_rules()
    assert rules
    names = Counter(rule["alert"] for rule in rules)
    assert not [name for name, count in names.items() if count > 1], names
    anchors = _runbook_anchors()
    for rule in rules:
        alert = rule["alert"]
        assert isinstance(rule.get("expr"), str) and rule["expr"].strip(), alert
        assert re.fullmatch(r"\d+[smhd]", str(rule.get("for", ""))), alert
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, alert
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), alert
        page, _, anchor = annotations.get("runbook_url", "").partition("#")
        assert page == "observability/runbooks.md", alert
        assert anchor in anchors, f"{alert}: runbooks.md has no heading for #{anchor}"


def test_metric_extraction_sees_through_promql() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) ("
        "rate(shotgraph_http_request_duration_seconds_bucket"
        '{service=~"$service", route!="/v1/events"}[$__rate_interval]))) > 1'
        " and on (service) sum without (pod) (increase(shotgraph_typo_total[5m] offset 1h))"
        " unless up == 0"
    )
    assert _metric_names(expr) == {
        "shotgraph_http_request_duration_seconds",
        "shotgraph_typo_total",
        "up",
    }


def test_alerts_and_dashboard_use_only_exported_metrics() -> None:
    queries = [rule["expr"] for rule in _alert_rules()] + _dashboard_queries()
    used: set[str] = set()
    for query in queries:
        names = _metric_names(query)
        assert names, f"no metric in {query!r}"
        used |= names
    assert used <= KNOWN_METRICS, f"unknown metrics: {sorted(used - KNOWN_METRICS)}"


def test_dashboard_is_a_grafana_dashboard_with_unique_panels() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["service"]["type"] == "query"
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels:
        title = panel["title"]
        assert panel.get("targets"), f"panel {title!r} has no target"
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", title
        for target in panel["targets"]:
            assert target["expr"].strip(), title
