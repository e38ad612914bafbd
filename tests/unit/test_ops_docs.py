"""docs/runbook.md and docs/deployment.md say what is true: the metrics they name are exported, the settings
they list are read, and the step-by-step commands give every secret and variable the manifests require."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.unit.test_alert_rules import exported_samples
from tests.unit.test_deploy_manifests import (
    COMPOSE,
    DOCKERFILE,
    MissingVariable,
    base_resources,
    compose_raw,
    interpolate,
    pod_specs,
)

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
DEPLOYMENT = ROOT / "docs" / "deployment.md"


def section(path: Path, title: str) -> str:
    """The text of the section of a Markdown file under the heading `title` (up to the next heading)."""
    text = path.read_text()
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    assert match, f"{path.name} has no section {title!r}"
    return match.group(1)


@pytest.mark.parametrize("path", [RUNBOOK, DEPLOYMENT], ids=lambda p: p.name)
def test_every_metric_the_docs_name_is_exported(path: Path) -> None:
    # `fourgates_events_<schema>` is the NOTIFY channel, `fourgates_test_*` the tests' vhosts: not metrics.
    named = {m.group(0) for m in re.finditer(r"\bfourgates_[a-z_]*[a-z](?![a-z_]*[<*])", path.read_text())}
    assert named, path.name
    from prometheus_client import REGISTRY

    exported = exported_samples()  # imports the metrics
    histograms = {family.name for family in REGISTRY.collect() if family.type == "histogram"}  # named bare
    missing = sorted(named - exported - histograms)
    assert not missing, f"{path.name} names {missing}, which no service exports"


def code_reads(name: str) -> bool:
    """Does anything the services run read this environment variable (code, nameko config, image entry point)?"""
    sources = [p.read_text() for p in (ROOT / "services").rglob("*.py")]
    sources += [(ROOT / "deploy" / "nameko.yaml").read_text(), DOCKERFILE.read_text()]
    direct = [rf"\$\{{{name}[:}}]", rf"[\"']{name}[\"']"]
    if name.endswith("_FILE"):  # the entry point reads NAME_FILE for each of the connection strings it names
        direct.append(rf"for name in \([^)]*[\"']{name[:-len('_FILE')]}[\"'][^)]*\):\n\s*path = env.get\(f\"{{name}}_FILE\"\)")
    if name.startswith("FOURGATES_"):  # setting(config, "NAME", default) reads FOURGATES_NAME
        direct.append(rf"setting\([^,]+,\s*[\"']{name[len('FOURGATES_'):]}[\"']")
    return any(re.search(pattern, text, re.M) for pattern in direct for text in sources)


def documented_settings() -> set[str]:
    runbook = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section(RUNBOOK, "Configuration")))
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", DEPLOYMENT.read_text(), re.M))
    table |= set(re.findall(r"^\| `[A-Z_]+`, `([A-Z][A-Z0-9_]+)`", DEPLOYMENT.read_text(), re.M))
    table |= set(re.findall(r"or `([A-Z][A-Z0-9_]+_FILE)`", DEPLOYMENT.read_text()))
    return runbook | table


def test_every_setting_the_docs_list_is_read_under_that_name() -> None:
    names = documented_settings()
    assert {"FOURGATES_DB", "AMQP_URI", "DB_POOL_SIZE", "FOURGATES_RELAY_POLL_SECONDS", "AMQP_URI_FILE"} <= names
    unread = sorted(name for name in names if not code_reads(name))
    assert not unread, f"the docs list {unread}, which nothing reads under that name"


def kubectl_secret_keys(text: str) -> set[str]:
    """The keys a documented `kubectl … create secret generic fourgates` command puts in the Secret."""
    commands = [" ".join(shlex.split(m.group(0).replace("\\\n", " "), comments=False))
                for m in re.finditer(r"kubectl[^\n]*create secret generic fourgates(?:[^\n]*\\\n)*[^\n]*", text)]
    assert commands, "no `kubectl create secret generic fourgates` command found"
    keys: set[str] = set()
    for command in commands:
        found = set(re.findall(r"--from-(?:literal|file)=([A-Za-z0-9_.-]+)=", command))
        assert not keys or found == keys, "the documented secret commands differ"
        keys = found
    return keys


def secret_keys_the_base_needs() -> set[str]:
    needed: set[str] = set()
    for _, spec in pod_specs():
        for container in spec["containers"]:
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] == "fourgates" and not ref.get("optional"):
                    needed.add(ref["key"])
        for volume in spec.get("volumes", []):
            secret = volume.get("secret")
            if secret and secret["secretName"] == "fourgates" and not secret.get("optional"):
                needed |= {item["key"] for item in secret.get("items", [])}
    return needed


@pytest.mark.parametrize("path", [DEPLOYMENT, ROOT / "deploy" / "k8s" / "secret.template.yaml"], ids=lambda p: p.name)
def test_the_documented_secret_holds_every_key_the_pods_need(path: Path) -> None:
    assert base_resources()
    needed = secret_keys_the_base_needs()
    assert {"FOURGATES_DB", "AMQP_URI", "FOURGATES_MASTER_KEY", "tokens.yaml"} <= needed
    missing = sorted(needed - kubectl_secret_keys(path.read_text()))
    assert not missing, f"{path.name}: the Secret it creates lacks {missing}; every pod would fail to start"


def env_file_variables(text: str) -> dict[str, str]:
    """The variables the documented `printf '…' … > deploy/.env` writes (with placeholder values)."""
    match = re.search(r"printf '([^']*)'", text)
    assert match, "no printf of deploy/.env found"
    return {name: "placeholder" for name in re.findall(r"([A-Z][A-Z0-9_]*)=%s", match.group(1))}


@pytest.mark.parametrize("path", [DEPLOYMENT, COMPOSE], ids=lambda p: p.name)
def test_the_documented_env_file_is_all_compose_requires(path: Path) -> None:
    variables = env_file_variables(path.read_text())
    try:
        interpolate(compose_raw(), variables)
    except MissingVariable as exc:
        pytest.fail(f"{path.name}: `docker compose up` with the deploy/.env it writes fails: {exc}")
    assert yaml.safe_load(COMPOSE.read_text())


def test_verify_reads_the_heads_where_the_services_export_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The runbook: `verify` needs the exported heads, in var/chain-heads "or wherever FOURGATES_CHAIN_HEAD_DIR
    points". Without them it cannot see the newest events removed, and still answers OK."""
    import click

    from services.auditor.cli import main, verify

    assert "FOURGATES_CHAIN_HEAD_DIR" in section(RUNBOOK, "Auditors")
    monkeypatch.setenv("FOURGATES_CHAIN_HEAD_DIR", str(tmp_path))
    (heads,) = [p for p in verify.params if p.name == "head_dir"]
    with click.Context(verify, parent=click.Context(main)) as ctx:
        assert Path(str(heads.get_default(ctx))) == tmp_path

