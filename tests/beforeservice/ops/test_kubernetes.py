"""The Kubernetes manifests render (kustomize, through kubectl), validate offline against the Kubernetes schemas
(kubernetes-validate), and agree with docker-compose.yml and the code: same image, commands and variables per
role, secrets only by reference, probes on the ports and paths the processes serve, only the API reachable."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from beforeservice.settings import Settings
from beforeservice.startup import ALL_SECRETS
from events.topics import LIFE_EVENTS
from tests.beforeservice.ops.support import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
KUBERNETES_VERSION = "1.30.0"
ROLES = ("api", "worker", "dispatcher", "scheduler", "migrate")
SECRET_VARIABLES = {*ALL_SECRETS, "DATABASE_URL"}
METRICS_PORTS = {"worker": "WORKER_METRICS_PORT", "dispatcher": "DISPATCHER_METRICS_PORT"}
METRICS_PORTS["scheduler"] = "SCHEDULER_METRICS_PORT"

# KEDA's ScaledObject is a custom resource: kubernetes-validate ships no schema for it. This one is written from
# KEDA's documentation (keda.sh/docs, "ScaledObject specification" and the Apache Kafka scaler) for the fields we use.
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                    },
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"const": "kafka"},
                            "metadata": {
                                "type": "object",
                                "required": ["bootstrapServers", "consumerGroup", "topic", "lagThreshold"],
                                # KEDA reads trigger metadata as strings
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def render(directory: Path) -> list[dict[str, Any]]:
    # kubectl from Debian's kubernetes-client (`make ops-tools`) renders kustomizations; missing, this fails.
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


@pytest.fixture(scope="module", params=list(OVERLAYS))
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(OVERLAYS[request.param])


def of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def workload(manifests: list[dict[str, Any]], role: str) -> dict[str, Any]:
    kind = "Job" if role == "migrate" else "Deployment"
    return of_kind(manifests, kind)[f"beforeservice-{role}"]


def container(manifests: list[dict[str, Any]], role: str) -> dict[str, Any]:
    containers = workload(manifests, role)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def config(manifests: list[dict[str, Any]]) -> dict[str, str]:
    return of_kind(manifests, "ConfigMap")["beforeservice-config"]["data"]


def variables(manifests: list[dict[str, Any]], role: str) -> dict[str, Any]:
    """The role's environment: the ConfigMaps it loads, then its own env (a value or a reference)."""
    spec = container(manifests, role)
    found: dict[str, Any] = {}
    for source in spec.get("envFrom", []):
        found.update(of_kind(manifests, "ConfigMap")[source["configMapRef"]["name"]]["data"])
    for entry in spec.get("env", []):
        found[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return found


def test_every_manifest_is_valid_against_the_kubernetes_schemas(manifests: list[dict[str, Any]]) -> None:
    kinds = set()
    for manifest in manifests:
        kinds.add(manifest["kind"])
        if manifest["kind"] == "ScaledObject":
            jsonschema.validate(manifest, SCALED_OBJECT_SCHEMA)  # KEDA's CRD: our schema, above
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "Service",
        "Job",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ScaledObject",
    }


def test_the_validator_refuses_a_broken_manifest(manifests: list[dict[str, Any]]) -> None:
    """The validation above is real: a misspelt field and a wrong type are refused."""
    broken = yaml.safe_load(yaml.safe_dump(workload(manifests, "worker")))
    broken["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    scaled = yaml.safe_load(yaml.safe_dump(of_kind(manifests, "ScaledObject")["beforeservice-worker"]))
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 1000
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, SCALED_OBJECT_SCHEMA)


def test_every_role_runs_the_one_image_with_its_command(manifests: list[dict[str, Any]]) -> None:
    images = {container(manifests, role)["image"] for role in ROLES}
    assert len(images) == 1
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for role in ROLES:
        service, spec = compose[role], container(manifests, role)
        assert spec["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1] == service["image"].split(":")[0], role
        if "entrypoint" in service:  # migrate: the same shell line
            assert spec["command"] == service["entrypoint"] and "args" not in spec, role
        else:  # the image's entrypoint (beforeservice) with the role's command
            assert "command" not in spec and spec["args"] == service["command"], role


def test_the_roles_get_the_variables_docker_compose_gives_them(manifests: list[dict[str, Any]]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    settings = {name.upper() for name in Settings.model_fields}
    for role in ROLES:
        names = set(variables(manifests, role))
        assert names == set(compose[role]["environment"]), role
        assert names <= settings, (role, names - settings)


def test_secrets_come_only_from_secret_objects(manifests: list[dict[str, Any]]) -> None:
    assert "Secret" not in {m["kind"] for m in manifests}  # never a value in the repository
    assert not SECRET_VARIABLES & set(config(manifests))
    for role in ROLES:
        env = variables(manifests, role)
        for name in SECRET_VARIABLES:
            assert env[name] == {"secretKeyRef": {"name": "beforeservice-secrets", "key": name}}, (role, name)
        volumes = workload(manifests, role)["spec"]["template"]["spec"]["volumes"]
        firebase = next(v for v in volumes if v["name"] == "firebase")
        assert firebase["secret"]["secretName"] == "beforeservice-firebase"
        mount = next(m for m in container(manifests, role)["volumeMounts"] if m["name"] == "firebase")
        assert env["FIREBASE_CREDENTIALS"].startswith(mount["mountPath"] + "/")


def test_the_citizens_app_settings_reach_the_api_with_its_client_secret_by_reference(
    manifests: list[dict[str, Any]],
) -> None:
    env = variables(manifests, "api")
    assert {"CITIZEN_OIDC_ISSUER", "CITIZEN_OIDC_CLIENT_ID", "CITIZEN_APP_URL", "FIREBASE_WEB_CONFIG"} <= set(env)
    assert env["CITIZEN_OIDC_CLIENT_SECRET"] == {
        "secretKeyRef": {"name": "beforeservice-secrets", "key": "CITIZEN_OIDC_CLIENT_SECRET", "optional": True}
    }
    assert "CITIZEN_OIDC_CLIENT_SECRET" not in of_kind(manifests, "ConfigMap")["beforeservice-citizen-app"]["data"]


def test_probes_ask_the_processes_what_they_serve(manifests: list[dict[str, Any]]) -> None:
    from beforeservice.api.app import create_app

    api_paths = _paths(create_app(Settings()).routes)
    spec = container(manifests, "api")
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz" in api_paths
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz" in api_paths
    api_port = next(p for p in spec["ports"] if p["name"] == "http")["containerPort"]
    assert str(api_port) == variables(manifests, "api")["API_PORT"]
    for role, setting in METRICS_PORTS.items():
        spec, env = container(manifests, role), variables(manifests, role)
        port = next(p for p in spec["ports"] if p["name"] == "metrics")["containerPort"]
        assert str(port) == env[setting] and env["WORKER_METRICS_HOST"] == "0.0.0.0", role
        assert spec["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}, role
        assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, role
    for role in ROLES:
        assert "memory" in container(manifests, role)["resources"]["limits"], role
        assert {"cpu", "memory"} <= set(container(manifests, role)["resources"]["requests"]), role


def test_one_scheduler_many_workers_dispatchers_apart(manifests: list[dict[str, Any]]) -> None:
    scheduler = workload(manifests, "scheduler")["spec"]
    assert scheduler["replicas"] == 1 and scheduler["strategy"]["type"] == "Recreate"
    assert variables(manifests, "worker")["WORKER_DISPATCHES_OUTBOX"] == "false"
    budgets = {name.removeprefix("beforeservice-") for name in of_kind(manifests, "PodDisruptionBudget")}
    assert budgets == {"api", "worker", "dispatcher"}
    for name, budget in of_kind(manifests, "PodDisruptionBudget").items():
        selected = budget["spec"]["selector"]["matchLabels"]
        labels = workload(manifests, name.removeprefix("beforeservice-"))["spec"]["template"]["metadata"]["labels"]
        assert selected.items() <= labels.items(), name


def test_workers_scale_on_consumer_lag_within_the_partitions(manifests: list[dict[str, Any]]) -> None:
    scaled = of_kind(manifests, "ScaledObject")["beforeservice-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "beforeservice-worker"
    assert scaled["maxReplicaCount"] <= int(config(manifests)["LIFE_EVENTS_PARTITIONS"])
    (trigger,) = scaled["triggers"]
    env = variables(manifests, "worker")
    assert trigger["metadata"]["consumerGroup"] == env.get("WORKER_ID", Settings().worker_id)
    assert trigger["metadata"]["topic"] == LIFE_EVENTS
    assert trigger["metadata"]["bootstrapServers"] == env["KAFKA_BOOTSTRAP_SERVERS"]


def test_only_the_api_is_reachable_from_outside(manifests: list[dict[str, Any]]) -> None:
    assert set(of_kind(manifests, "Service")) == {"beforeservice-api"}
    policies = of_kind(manifests, "NetworkPolicy")
    deny = policies["beforeservice-default-deny-ingress"]["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    for role in ROLES:  # every pod of the engine is under the default deny
        labels = workload(manifests, role)["spec"]["template"]["metadata"]["labels"]
        assert deny["podSelector"]["matchLabels"].items() <= labels.items(), role
    open_to_all = [
        name for name, policy in policies.items() for rule in policy["spec"].get("ingress", []) if "from" not in rule
    ]
    assert open_to_all == ["beforeservice-api-ingress"]
    assert (
        policies["beforeservice-api-ingress"]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        == "api"
    )


def _paths(routes: list[Any]) -> set[str]:
    """Every path the app serves; FastAPI keeps an included router's routes behind `original_router`."""
    found: set[str] = set()
    for route in routes:
        if hasattr(route, "path"):
            found.add(route.path)
        if hasattr(route, "original_router"):
            found |= _paths(route.original_router.routes)
    return found
