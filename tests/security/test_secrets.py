"""Secrets come from configuration or the environment, never from the code or the logs.

The services here run with random bearer tokens (a tokens file of the test's own), a random master key,
a database password in the connection string (the local server trusts, so any password connects) and
the broker's URI in the environment. After a full run through selection, posting and assessment, with
refused requests too, none of them appears in any service log, nor in the repository's code.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.security.catalogue import _campaign_finalised, _finalised
from tests.security.conftest import DB, ROOT, System, ok, running_system

DB_PASSWORD = f"pw{secrets.token_hex(12)}"
SKIP_DIRS = {".venv", ".git", "var", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The running system, with a database password in the services' connection string."""
    with running_system(tmp_path_factory, f"{DB} password={DB_PASSWORD}") as running:
        yield running


def full_run(system: System) -> list[str]:
    """Every gate once, a campaign with its survey, anonymous ballots, and some refused requests.
    Returns the one-time ballot tokens it handed out."""
    path = _finalised(system)
    ok(system.assessment.post(path + "/appeals", {"reason": "本人对考核结果有异议"}, "finance"))
    issued = ok(system.assessment.post(path + "/ballot-tokens", {"rater_group": "colleagues", "count": 3}, "qingshui"))
    for token in issued["tokens"]:
        ok(system.assessment.post("/assessment/ballots", {"ballot_token": token, "grade": "competent"}, None))
    campaign_id = _campaign_finalised(system)
    ok(system.assessment.post(f"/assessment/campaigns/{campaign_id}/units/county-finance/result-uses",
                              {"use": "pay", "note": "绩效奖金"}, "od"))
    placement_id = path.split("/")[3]
    ok(system.posting.post(f"/posting/placements/{placement_id}/check-ins", {
        "checked_on": "2025-05-01", "thinking": "思想稳定", "work": "走访五户", "met_by": "镇党委书记"}, "qingshui"))
    for service in ("selection", "posting", "assessment"):
        base = system.base(service)
        requests.post(f"{base}/{service}/policies", json={}, timeout=30,
                      headers={"Authorization": f"Bearer {system.tokens['auditor']}"})  # 403
        requests.get(f"{base}/{service}/feed", timeout=30, headers={"Authorization": "Bearer sec-made-up-token"})  # 401
        requests.get(f"{base}/{service}/health", timeout=30)
    system.quiet(still=1.0)
    return list(issued["tokens"])


def the_secrets(system: System, ballot_tokens: list[str]) -> dict[str, str]:
    found = {f"token of {name}": token for name, token in system.tokens.items()}
    found.update({f"ballot token {i}": t for i, t in enumerate(ballot_tokens)})
    found["master key"] = system.master_key
    found["database password"] = DB_PASSWORD
    found["broker URI"] = system.amqp_uri
    found["broker credentials"] = "guest:guest@"
    return found


def test_no_secret_appears_in_any_service_log_after_a_full_run(system: System) -> None:
    ballot_tokens = full_run(system)
    logs = {p.relative_to(system.logs): p.read_text(errors="replace") for p in system.logs.rglob("*.log")}
    assert set(map(str, logs)) >= {"selection/selection.log", "posting/posting.log", "assessment/assessment.log"}
    assert all("/placements/" in text or "/nominations" in text or "/cadres" in text for text in logs.values())
    leaked = [f"{what} in {name}" for name, text in logs.items() for what, secret in the_secrets(system, ballot_tokens).items()
              if secret in text]
    assert not leaked, leaked


def test_no_secret_of_the_run_appears_in_the_repository(system: System) -> None:
    run_secrets = [system.master_key, DB_PASSWORD, *system.tokens.values()]
    hits = []
    for path in _code_files():
        text = path.read_text(errors="replace")
        hits += [f"{path.relative_to(ROOT)}" for secret in run_secrets if secret in text]
    assert not hits, hits


def _code_files() -> Iterator[Path]:
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIP_DIRS & set(path.relative_to(ROOT).parts) and path.stat().st_size < 2_000_000 \
                and path.suffix in {".py", ".yaml", ".yml", ".json", ".md", ".sh", ".toml", ".cfg", ".ini", ".txt", ""}:
            yield path


# Credentials written into code or manifests: a password in a libpq string or a URI, a key assigned a literal.
CREDENTIAL = re.compile(r"password\s*=\s*(?![$%<{])[^\s'\"{}]{4,}|://[^/\s:@'\"]+:(?!\$\{|<)[^@\s'\"]{3,}@|"
                        r"(?:MASTER_KEY|SECRET|PASSWORD)\w*\s*[:=]\s*['\"][A-Za-z0-9+/=]{16,}['\"]", re.I)
# Development defaults the code keeps on purpose, each refused or unused outside development:
DEVELOPMENT_DEFAULTS = {
    # the local broker's stock account, the default when AMQP_URI is not set (deployments set it: compose, k8s)
    "://guest:guest@",
}


def test_no_credential_is_written_into_the_services_or_the_deployment_files() -> None:
    assert CREDENTIAL.search("host=db password=hunter2secret") and CREDENTIAL.search("amqp://app:s3cretpw@mq:5672/")
    hits = []
    for folder in ("services", "deploy"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix not in {".py", ".yaml", ".yml", ".sh", ""} or "__pycache__" in path.parts:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                for match in CREDENTIAL.finditer(line):
                    if not any(allowed in match.group(0) for allowed in DEVELOPMENT_DEFAULTS):
                        hits.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not hits, "\n".join(hits)


def test_the_development_master_key_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.backbone import vault

    monkeypatch.delenv("FOURGATES_MASTER_KEY", raising=False)
    monkeypatch.setenv("FOURGATES_ENV", "production")
    with pytest.raises(vault.MasterKeyMissingError):
        vault.master_key()


def test_every_deployment_takes_the_master_key_from_a_secret() -> None:
    manifests = [ROOT / "deploy" / "compose.yaml", *sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))]
    text = "\n".join(p.read_text() for p in manifests if p.exists())
    documented = (ROOT / "docs" / "deployment.md").read_text()
    assert "FOURGATES_MASTER_KEY" in text, "no manifest sets FOURGATES_MASTER_KEY"
    assert "FOURGATES_MASTER_KEY" in documented, "docs/deployment.md does not list FOURGATES_MASTER_KEY"
