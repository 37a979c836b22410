"""``cvguard keys`` and the first start of ``cvguard serve`` (an admin key, shown once, kept 0600)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from cvguard.cli import app
from cvguard.store.keys import KeyStore

SRC = str(Path(__file__).resolve().parents[2] / "src")
runner = CliRunner()


def test_create_list_revoke(database_url: str) -> None:
    args = ["keys", "create", "--role", "moderator", "--name", "alice", "--db", database_url]
    created = runner.invoke(app, args)
    assert created.exit_code == 0, created.output
    key = created.stdout.splitlines()[-1]  # alone on the last line, for scripts
    assert key.startswith("cvg_") and " " not in key
    key_id = key.split("_")[1]
    with KeyStore.open(database_url) as keys:
        found = keys.verify(key)
        assert found is not None and (found.role, found.name) == ("moderator", "alice")

    listed = runner.invoke(app, ["keys", "list", "--db", database_url])
    assert listed.exit_code == 0 and key_id in listed.stdout and "moderator" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout  # never the secret
    rows = [json.loads(line) for line in runner.invoke(app, ["keys", "list", "--json", "--db", database_url])
            .stdout.splitlines()]
    assert [(r["key_id"], r["state"]) for r in rows] == [(key_id, "active")]

    revoked = runner.invoke(app, ["keys", "revoke", key_id, "--db", database_url])
    assert revoked.exit_code == 0 and key_id in revoked.stdout
    with KeyStore.open(database_url) as keys:
        assert keys.verify(key) is None
    rows = [json.loads(line) for line in runner.invoke(app, ["keys", "list", "--json", "--db", database_url])
            .stdout.splitlines()]
    assert rows[0]["state"] == "revoked"


def test_an_expiring_key(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    created = runner.invoke(app, ["keys", "create", "--role", "platform", "--expires-days", "2", "--db", db])
    assert created.exit_code == 0
    with KeyStore.open(db) as keys:
        (info,) = keys.list()
    assert info.expires_at is not None and info.expires_at - info.created_at == timedelta(days=2)


def test_a_bad_role_or_id_is_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    bad = runner.invoke(app, ["keys", "create", "--role", "root", "--db", db])
    assert bad.exit_code == 2
    assert "unknown role 'root'" in bad.stderr and "platform, moderator, auditor, admin" in bad.stderr
    assert not (tmp_path / "k.db").exists()  # refused before touching a database
    missing = runner.invoke(app, ["keys", "revoke", "0123456789ab", "--db", db])
    assert missing.exit_code == 2 and "no API key" in missing.stderr


def _serve_until_listening(data_dir: Path) -> str:
    """Start `cvguard serve` on a free port, return what it printed on stderr once listening, stop it."""
    env = {**os.environ, "PYTHONPATH": SRC, "CVGUARD_DATA_DIR": str(data_dir)}
    env.pop("CVGUARD_DATABASE_URL", None)
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "cvguard", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    ) as proc:
        deadline = time.monotonic() + 120
        try:
            assert proc.stdout is not None
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if "Uvicorn running on" in line:
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    out = "".join(lines)
    assert "Uvicorn running on" in out, out
    return out


def test_the_first_start_of_serve_creates_an_admin_key_shown_once(tmp_path: Path) -> None:
    first = _serve_until_listening(tmp_path)
    path = tmp_path / "admin.key"
    key = path.read_text().strip()
    assert key in first  # printed once, to the terminal
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # readable by its owner only
    with KeyStore.open(f"sqlite:///{tmp_path / 'cvguard.db'}") as keys:
        found = keys.verify(key)
        assert found is not None and found.role == "admin"

    second = _serve_until_listening(tmp_path)
    assert key not in second and str(path) in second  # where it is, never the key again
    with KeyStore.open(f"sqlite:///{tmp_path / 'cvguard.db'}") as keys:
        assert len(keys.list()) == 1
