"""The installed ``praho`` console script against a brand-new embedded database."""

import os
import subprocess
import sys


def run_praho(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "praho.core.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_db_upgrade_creates_a_working_embedded_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAHO_")}
    env["PRAHO_INSTANCE_PATH"] = str(tmp_path / "instance")
    upgraded = run_praho("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "instance" / "praho.db").exists()
    verified = run_praho("audit", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout
    listed = run_praho("invoice", "list", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    downgraded = run_praho("db", "downgrade", "base", cwd=tmp_path, env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    broken = run_praho("invoice", "show", "X", cwd=tmp_path, env=env)
    assert broken.returncode != 0
