"""The deployment files, checked without a cluster or a container engine.

deploy/k8s/ against the Kubernetes API schemas (bundled by kubernetes-validate), deploy/compose.yaml
against the compose-spec schema (bundled by check-jsonschema), deploy/Dockerfile and its entry
point read as text; then the rules that matter: every service has probes, resources, an HPA and a
PDB; the image runs as a non-root user with PSYCOPG_WAIT_FUNC=wait_select; no secret is committed.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

from deploy.supervise import SERVICES as SUPERVISED_SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
SERVICES = ("selection", "posting", "assessment", "reporting")
SECRET_TEMPLATE = "secret.template.yaml"
# The oldest Kubernetes minor the manifests promise to work on, and the newest schema bundled.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
COMPOSE_ENV = {"FOURGATES_PG_PASSWORD": "test-only-pg", "FOURGATES_MQ_PASSWORD": "test-only-mq",
               "FOURGATES_MASTER_KEY": "dGVzdC1vbmx5LW5vdC1hLXJlYWwta2V5LTMyYnl0ZXM="}


# ---- reading the files ----------------------------------------------------------------------------

def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in k8s_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def base_resources() -> list[dict[str, Any]]:
    """What the Kustomize base applies: the documents of the files it lists."""
    listed = set(kustomization()["resources"])
    return [doc for name, doc in k8s_documents() if name in listed]


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in base_resources() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind} {name!r} in the base, found {len(matches)}"
    return matches[0]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in base_resources():
        if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def dockerfile_instructions() -> tuple[list[list[tuple[str, str]]], dict[str, str]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), and its heredocs by destination."""
    lines = DOCKERFILE.read_text().splitlines()
    instructions: list[tuple[str, str]] = []
    heredocs: dict[str, str] = {}
    current = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines, comments (also between continuation lines) and the syntax directive
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        heredoc = re.search(r"<<-?([\"']?)(\w+)\1", current)
        if heredoc:
            body = []
            while lines[i] != heredoc.group(2):
                body.append(lines[i])
                i += 1
            i += 1
            heredocs[current.split()[-1]] = "\n".join(body) + "\n"
        keyword, _, rest = current.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages, heredocs


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_instructions()[0][-1]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def image_uid() -> int:
    users = [rest for keyword, rest in final_stage() if keyword == "USER"]
    assert users, "the final stage sets no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit(), f"USER {user!r}: give a numeric uid so Kubernetes can verify runAsNonRoot"
    return int(user)


def entrypoint_namespace() -> dict[str, Any]:
    """The image's entry point script (a heredoc of the Dockerfile), loaded as a module."""
    source = dockerfile_instructions()[1]["/usr/local/bin/fourgates"]
    namespace: dict[str, Any] = {"__name__": "fourgates_entrypoint"}
    exec(compile(source, "fourgates-entrypoint", "exec"), namespace)
    return namespace


class MissingVariable(Exception):
    pass


_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation ($$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a})."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            return env.get(match.group("named"), "")
        parts = _BRACED.fullmatch(match.group("braced"))
        assert parts, f"cannot interpolate {match.group(0)!r}"
        name, op, arg = parts.group("name"), parts.group("op"), parts.group("arg")
        current = env.get(name)
        is_set = current is not None and (current != "" or not (op or "").startswith(":"))
        if op is None:
            return current or ""
        if op.endswith("-"):
            return current if is_set and current is not None else arg
        if op.endswith("?"):
            if not is_set or current is None:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return arg if is_set else ""

    return _VARIABLE.sub(substitute, value)


def compose_raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def compose(**env: str) -> dict[str, Any]:
    resolved: dict[str, Any] = interpolate(compose_raw(), {**COMPOSE_ENV, **env})
    return resolved


def compose_schema_errors(document: dict[str, Any]) -> list[str]:
    schema = get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# ---- the image ------------------------------------------------------------------------------------

def test_dockerfile_builds_one_image_from_python_311() -> None:
    stages, _ = dockerfile_instructions()
    assert len(stages) >= 1
    assert re.search(r"python:3\.11", DOCKERFILE.read_text()), "the services run on Python 3.11"


def test_image_runs_as_a_non_root_user() -> None:
    assert image_uid() != 0


def test_image_bakes_psycopg_wait_select() -> None:
    assert image_env().get("PSYCOPG_WAIT_FUNC") == "wait_select"


def test_image_installs_the_lock_then_the_project() -> None:
    stages, _ = dockerfile_instructions()
    runs = [rest for stage in stages for keyword, rest in stage if keyword == "RUN"]
    lock = next(i for i, run in enumerate(runs) if "-r requirements.lock" in run)
    project = next(i for i, run in enumerate(runs) if re.search(r"pip install --no-deps (-e )?\.", run))
    assert lock < project
    copies = [rest for stage in stages for keyword, rest in stage if keyword == "COPY"]
    assert copies.index("requirements.lock ./") < copies.index("services/ services/"), (
        "copy the lock before the code, so dependency layers survive code changes")


def test_image_entrypoint_picks_the_service() -> None:
    entry = [rest for keyword, rest in final_stage() if keyword == "ENTRYPOINT"]
    assert entry and entry[-1] == '["fourgates"]'
    ns = entrypoint_namespace()
    command: Callable[..., list[str]] = ns["command"]
    assert set(ns["SERVICES"]) == set(SERVICES) == set(SUPERVISED_SERVICES)
    for service in SERVICES:
        by_argument = command([service], {})
        by_environment = command([], {"FOURGATES_SERVICE": service})
        assert by_argument == by_environment
        assert by_argument[1:] == ["-m", "nameko", "run", f"services.{service}.service",
                                   "--config", "/app/deploy/nameko.yaml"]
    assert command(["migrate", "posting"], {})[1:] == ["-m", "services.backbone.migrations", "posting"]
    assert command(["sh", "-c", "true"], {}) == ["sh", "-c", "true"]
    with pytest.raises(SystemExit):
        command([], {})
    assert (ROOT / "deploy" / "nameko.yaml").exists()


def test_image_entrypoint_resolves_the_database_host_before_eventlet() -> None:
    with_hostaddr: Callable[..., str] = entrypoint_namespace()["with_hostaddr"]
    from psycopg.conninfo import conninfo_to_dict

    def fixed(host: str) -> str:
        return {"postgres": "10.1.2.3", "standby": "10.1.2.4"}[host]

    resolved = conninfo_to_dict(with_hostaddr("host=postgres port=5432 user=u dbname=d password=p", fixed))
    assert resolved["hostaddr"] == "10.1.2.3" and resolved["host"] == "postgres" and resolved["password"] == "p"
    assert conninfo_to_dict(with_hostaddr("postgresql://u:p@postgres:5432/d?sslmode=require", fixed))["hostaddr"] == "10.1.2.3"
    assert conninfo_to_dict(with_hostaddr("host=postgres,standby user=u", fixed))["hostaddr"] == "10.1.2.3,10.1.2.4"
    given = "host=postgres hostaddr=10.9.9.9 user=u"
    assert with_hostaddr(given, fixed) == given
    assert with_hostaddr("host=/var/run/postgresql user=u", fixed) == "host=/var/run/postgresql user=u"
    resolve: Callable[..., str] = entrypoint_namespace()["resolve"]
    assert resolve("127.0.0.1") == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f.:]+", resolve("localhost", 5))


def test_image_entrypoint_reads_connection_strings_from_secret_files(tmp_path: Path) -> None:
    read_secret_files: Callable[[dict[str, str]], None] = entrypoint_namespace()["read_secret_files"]
    (tmp_path / "db").write_text("host=postgres user=u\n")
    env = {"FOURGATES_DB_FILE": str(tmp_path / "db"), "AMQP_URI": "amqp://given/", "AMQP_URI_FILE": "/nonexistent"}
    read_secret_files(env)
    assert env["FOURGATES_DB"] == "host=postgres user=u" and env["AMQP_URI"] == "amqp://given/"


def test_image_takes_no_tokens_or_local_secrets_from_deploy() -> None:
    sources = [shlex.split(rest)[:-1] for stage in dockerfile_instructions()[0] for keyword, rest in stage
               if keyword == "COPY" and not rest.startswith(("--from", "--chmod=0755 <<"))]
    from_deploy = [source for copied in sources for source in copied if source.startswith("deploy")]
    assert from_deploy == ["deploy/nameko.yaml"], "copy only the nameko config: deploy/ holds dev tokens and .env"
    assert image_env().get("FOURGATES_TOKENS_FILE", "").startswith("/run/secrets/")


# ---- Kubernetes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("index", range(len(k8s_documents())),
                         ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in k8s_documents()])
def test_k8s_manifest_is_valid(index: int, version: str) -> None:
    _, doc = k8s_documents()[index]
    kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    listed = kustomization()["resources"]
    assert sorted(listed) == sorted(p.name for p in k8s_files() if p.name != SECRET_TEMPLATE)
    assert SECRET_TEMPLATE not in listed, "the template must never be applied over the real Secret"
    images = {image["name"] for image in kustomization().get("images", [])}
    used = {c["image"] for _, spec in pod_specs() for c in spec["containers"]}
    assert used == {"fourgates"} and used <= images, "one image for every service, set by Kustomize"


@pytest.mark.skipif(not (shutil.which("kubectl") or shutil.which("kustomize")), reason="no kubectl or kustomize here")
def test_kustomize_renders_valid_manifests() -> None:
    command = ["kustomize", "build"] if shutil.which("kustomize") else ["kubectl", "kustomize"]
    out = subprocess.run([*command, str(K8S)], capture_output=True, text=True, timeout=60, check=True).stdout
    docs = [doc for doc in yaml.safe_load_all(out) if doc]
    assert len(docs) == len(base_resources())
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
    templates = [doc["spec"]["template"]["spec"] for doc in docs if "template" in doc.get("spec", {})]
    images = {container["image"] for spec in templates for container in spec["containers"]}
    assert all(":" in image and not image.endswith(":latest") for image in images), images


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_probed_resourced_deployment(service: str) -> None:
    deployment = find("Deployment", f"fourgates-{service}")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count: an applied one would reset it"
    template = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    (container,) = template["spec"]["containers"]
    assert container["args"] == [service]
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert port_names == {"http": 8000}
    # Ready when the database and the broker answer; alive while the process answers at all, so an outage of
    # either takes the replicas out of the Service without restarting every one of them.
    for probe, path in (("readinessProbe", "health"), ("startupProbe", "health"), ("livenessProbe", "live")):
        get = container[probe]["httpGet"]
        assert get["path"] == f"/{service}/{path}" and get["port"] in ("http", 8000), probe
    assert container["livenessProbe"]["failureThreshold"] * container["livenessProbe"]["periodSeconds"] >= 30, (
        "a short database hiccup must not restart every replica")
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), f"{service}: {kind} need cpu and memory"
    assert template["metadata"]["annotations"]["prometheus.io/path"] == f"/{service}/metrics"
    env = {item["name"]: item for item in container.get("env", [])}
    for name in ("FOURGATES_DB", "AMQP_URI"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "fourgates", f"{name} comes from the Secret"
    assert {"configMapRef": {"name": "fourgates-config"}} in container["envFrom"]
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    config = find("ConfigMap", "fourgates-config")["data"]
    assert config["FOURGATES_TOKENS_FILE"].startswith(mounts["tokens"] + "/")
    volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
    assert volumes["tokens"]["secret"]["secretName"] == "fourgates"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_service_an_hpa_and_a_pdb(service: str) -> None:
    name = f"fourgates-{service}"
    pod_labels = find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    svc = find("Service", name)
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert [port["targetPort"] for port in svc["spec"]["ports"]] == ["http"]
    hpa = find("HorizontalPodAutoscaler", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["metrics"], "the HPA needs a metric"
    pdb = find("PodDisruptionBudget", name)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a PDB as large as the minimum blocks every drain"


def test_pods_run_as_the_image_user_without_privileges() -> None:
    uid = image_uid()
    for name, spec in pod_specs():
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] == uid, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name


def test_migration_job_runs_the_migrations() -> None:
    (job,) = [doc for doc in base_resources() if doc["kind"] == "Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_nothing_overrides_psycopg_wait_func() -> None:
    config = find("ConfigMap", "fourgates-config")["data"]
    values = [config.get("PSYCOPG_WAIT_FUNC")]
    values += [item.get("value") for _, spec in pod_specs() for c in spec["containers"] for item in c.get("env", [])
               if item["name"] == "PSYCOPG_WAIT_FUNC"]
    values += [s.get("environment", {}).get("PSYCOPG_WAIT_FUNC") for s in compose()["services"].values()]
    assert all(value in (None, "wait_select") for value in values)


def test_configuration_and_secrets_are_kept_apart() -> None:
    config = find("ConfigMap", "fourgates-config")["data"]
    assert not {"FOURGATES_DB", "AMQP_URI"} & set(config)
    assert not [key for key in config if re.search(r"PASSWORD|SECRET", key)]
    secrets = [doc for doc in base_resources() if doc["kind"] == "Secret"]
    assert not secrets, "the base carries no Secret: the installation creates it"
    (template,) = [doc for name, doc in k8s_documents() if name == SECRET_TEMPLATE]
    expected = {"FOURGATES_DB", "AMQP_URI", "FOURGATES_MASTER_KEY", "tokens.yaml"}
    assert "data" not in template and set(template["stringData"]) == expected
    for key, value in template["stringData"].items():
        assert "<" in value, f"{key}: the template holds placeholders only"
    assert not yaml.safe_load(template["stringData"]["tokens.yaml"]), "the template issues no token"


PASSWORD_PATTERNS = (
    re.compile(r"\bpassword=([^\s\"'`]+)"),
    re.compile(r"\b(?:amqps?|postgres(?:ql)?)://[^:/\s@]+:([^@\s]+)@"),
    re.compile(r"^\s*[A-Z_]*(?:PASSWORD|PASS)[A-Z_]*\s*[:=]\s*(\S+)", re.M),
)


@pytest.mark.parametrize("path", [COMPOSE, *k8s_files(), K8S / "kustomization.yaml", ROOT / "docs" / "deployment.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_value_is_committed(path: Path) -> None:
    text = path.read_text()
    for pattern in PASSWORD_PATTERNS:
        for match in pattern.finditer(text):
            value = match.group(1).strip("\"'")
            assert value.startswith(("${", "<", "$(", "$")), f"{path.name}: {match.group(0)!r} looks like a real secret"
    assert not re.search(r"^\s*kind:\s*Secret\s*$", text, re.M) or path.name == SECRET_TEMPLATE
    assert "dev-od-zhang" not in text and not re.search(r"\bdev-[a-z-]+:\s*\{principal", text)


# ---- compose --------------------------------------------------------------------------------------

def test_compose_file_matches_the_compose_spec() -> None:
    assert compose_schema_errors(compose_raw()) == []
    assert compose_schema_errors(compose(POSTING_REPLICAS="3")) == []


def test_compose_requires_the_passwords_from_the_environment() -> None:
    with pytest.raises(MissingVariable):
        interpolate(compose_raw(), {})


def test_compose_runs_postgres_rabbitmq_with_management_and_every_service() -> None:
    services = compose()["services"]
    assert {"postgres", "rabbitmq", "migrate", *SERVICES} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("postgres", "rabbitmq"):
        assert services[name]["healthcheck"]["test"], name


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service_is_healthchecked_and_scalable(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["command"] == [service]
    assert spec["healthcheck"]["test"] == ["CMD", "fourgates", "health", service]
    assert spec["healthcheck"]["start_period"], "give the service time to connect before counting failures"
    assert "container_name" not in spec, "a fixed container name allows one replica only"
    assert "ports" not in spec, "a published host port allows one replica only (the gateway publishes)"
    assert int(spec["deploy"]["replicas"]) == 1
    scaled = compose(**{f"{service.upper()}_REPLICAS": "3"})["services"][service]
    assert int(scaled["deploy"]["replicas"]) == 3
    assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert spec["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert spec["environment"]["FOURGATES_TOKENS_FILE"] == "/run/secrets/fourgates-tokens"
    assert "fourgates-tokens" in spec["secrets"]
    gateway = compose()["configs"]["gateway-nginx"]["content"]
    assert service in gateway


def test_compose_mounts_the_tokens_as_a_secret_file() -> None:
    secret = compose()["secrets"]["fourgates-tokens"]
    assert set(secret) == {"file"}
    assert (DEPLOY / secret["file"]).resolve() == (DEPLOY / "tokens.dev.yaml").resolve()
    assert compose(FOURGATES_TOKENS="/etc/fourgates/tokens.yaml")["secrets"]["fourgates-tokens"]["file"] == (
        "/etc/fourgates/tokens.yaml")


def _docker_compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _docker_compose_available(), reason="the docker compose plugin is not installed here")
def test_docker_compose_accepts_the_file() -> None:
    subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], check=True, timeout=60,
                   env={"PATH": "/usr/bin:/bin:/usr/local/bin", **COMPOSE_ENV})


# ---- the audit chain's exported heads -------------------------------------------------------------

def chain_head_dir() -> str:
    """Where the services in the image export the chain heads (FOURGATES_CHAIN_HEAD_DIR; the code's default
    is var/chain-heads beside the code, i.e. under /app, which the image's user cannot write)."""
    configured = find("ConfigMap", "fourgates-config")["data"].get("FOURGATES_CHAIN_HEAD_DIR")
    return configured or image_env().get("FOURGATES_CHAIN_HEAD_DIR", "/app/var/chain-heads")


def test_the_image_exports_chain_heads_outside_the_code_to_a_folder_its_user_owns() -> None:
    head_dir = chain_head_dir()
    assert head_dir.startswith("/") and not head_dir.startswith("/app/"), (
        f"{head_dir}: /app is owned by root (and read-only in Kubernetes and compose): every export fails")
    runs = " ".join(rest for keyword, rest in final_stage() if keyword == "RUN")
    assert re.search(rf"mkdir -p [^&]*{re.escape(head_dir)}", runs) and re.search(r"chown [^&]*10001", runs), (
        "create the head folder in the image, owned by the service user")


SEALING = [s for s in SERVICES if "SequencerProvider()" in (ROOT / "services" / s / "service.py").read_text()]


@pytest.mark.parametrize("service", SEALING)
def test_every_deployment_mounts_a_writable_volume_for_the_chain_heads(service: str) -> None:
    template = find("Deployment", f"fourgates-{service}")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mount = mounts.get(chain_head_dir())
    assert mount and not mount.get("readOnly"), f"{service}: nothing writable at {chain_head_dir()}"
    volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
    assert "secret" not in volumes[mount["name"]] and "configMap" not in volumes[mount["name"]]
    # The heads are the auditors' evidence outside the database: a volume that dies with the pod (emptyDir)
    # takes them along at every rescheduling, and `verify` then cannot see the newest events removed.
    claim = volumes[mount["name"]].get("persistentVolumeClaim")
    assert claim, f"{service}: the chain heads must outlive the pod (a PersistentVolumeClaim, not {volumes[mount['name']]})"
    assert claim["claimName"] == CHAIN_HEADS_CLAIM and not claim.get("readOnly")


CHAIN_HEADS_CLAIM = "fourgates-chain-heads"


def test_the_chain_heads_claim_is_shared_by_every_replica_of_every_sealing_service() -> None:
    """Replicas on different nodes append to the same files (the sequencer's lock passes between them), and
    `verify` reads every service's heads in one folder: one claim, mountable read-write by many nodes."""
    claim = find("PersistentVolumeClaim", CHAIN_HEADS_CLAIM)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"]


@pytest.mark.parametrize("service", SEALING)
def test_every_compose_service_keeps_the_chain_heads_on_a_named_volume(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["read_only"] is True
    targets = {volume.rpartition(":")[2] if volume.count(":") == 1 else volume.split(":")[1]: volume
               for volume in spec.get("volumes", [])}
    volume = targets.get(chain_head_dir())
    assert volume, f"{service}: nothing writable at {chain_head_dir()} (the container's root is read-only)"
    assert volume.split(":")[0] in compose()["volumes"], "a named volume: the heads outlive the container"
