"""`tally install` into a staging root: everything in place, idempotent, an operator's config never
overwritten, the staged unit valid for systemd, and a clear refusal without root."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TALLY = Path(sys.executable).parent / "tally"

EXPECTED = {  # path in the root -> mode
    "etc/systemd/system/tally.service": 0o644,
    "etc/systemd/system/tally@.service": 0o644,
    "etc/udev/rules.d/99-tally.rules": 0o644,
    "etc/sysusers.d/tally.conf": 0o644,
    "etc/tally": 0o750,
    "etc/tally/tally.toml": 0o640,
    "var/lib/tally": 0o750,
}


def install(*args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway", "install", *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def tree(root: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(root))] = (path.stat().st_mode & 0o7777, digest)
    return out


def test_install_twice_into_a_staging_root(tmp_path):
    stage = tmp_path / "stage"
    first = install("--root", str(stage))
    assert first.returncode == 0, first.stderr
    for relative, mode in EXPECTED.items():
        path = stage / relative
        assert path.exists(), relative
        assert path.stat().st_mode & 0o7777 == mode, (relative, oct(path.stat().st_mode))
    assert (stage / "etc/tally/tally.toml").read_bytes() == (ROOT / "config/tally.toml").read_bytes()
    assert (stage / "etc/udev/rules.d/99-tally.rules").read_bytes() == (ROOT / "config/99-tally.rules").read_bytes()
    unit = (stage / "etc/systemd/system/tally.service").read_text()
    assert f"ExecStart={TALLY} run -c /etc/tally/tally.toml" in unit  # the tally that ran the install
    assert unit.replace(str(TALLY), "/usr/local/bin/tally") == (ROOT / "systemd/tally.service").read_text()
    assert "u tally -" in (stage / "etc/sysusers.d/tally.conf").read_text()
    before = tree(stage)

    second = install("--root", str(stage))
    assert second.returncode == 0, second.stderr
    assert tree(stage) == before
    assert all(line.split()[0] in ("unchanged", "keep") for line in second.stdout.splitlines()), second.stdout
    assert "keep      /etc/tally/tally.toml" in second.stdout


def test_an_operators_config_is_never_overwritten_but_our_files_are_repaired(tmp_path):
    stage = tmp_path / "stage"
    assert install("--root", str(stage)).returncode == 0
    config = stage / "etc/tally/tally.toml"
    config.write_text('[gateway]\nid = "door-9"\n')
    config.chmod(0o600)
    unit = stage / "etc/systemd/system/tally.service"
    unit.write_text("[Service]\nExecStart=/bin/false\n")
    rules = stage / "etc/udev/rules.d/99-tally.rules"
    rules.chmod(0o666)

    result = install("--root", str(stage))
    assert result.returncode == 0, result.stderr
    assert config.read_text() == '[gateway]\nid = "door-9"\n' and config.stat().st_mode & 0o777 == 0o600
    assert "ExecStart=/bin/false" not in unit.read_text()
    assert rules.stat().st_mode & 0o777 == 0o644
    assert "update    /etc/systemd/system/tally.service" in result.stdout
    assert "chmod     /etc/udev/rules.d/99-tally.rules" in result.stdout
    # A dangling symlink where the config goes is the operator's too: kept, not written through.
    config.unlink()
    config.symlink_to(tmp_path / "elsewhere.toml")
    assert install("--root", str(stage)).returncode == 0
    assert config.is_symlink() and not (tmp_path / "elsewhere.toml").exists()


def test_the_staged_unit_and_users_are_valid(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    stage = tmp_path / "stage"
    assert install("--root", str(stage)).returncode == 0
    unit = stage / "etc/systemd/system/tally.service"
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and unit.name not in result.stdout + result.stderr, result.stderr
    if shutil.which("systemd-sysusers"):
        users = subprocess.run(["systemd-sysusers", f"--root={stage}", "--dry-run"], capture_output=True, text=True)
        assert users.returncode == 0, users.stderr
        assert "Creating user 'tally'" in users.stdout + users.stderr
        assert not (stage / "etc/passwd").exists()  # a dry run


def test_dry_run_changes_nothing(tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir()
    result = install("--root", str(stage), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert list(stage.iterdir()) == []
    assert "would install   /etc/systemd/system/tally.service" in result.stdout
    assert "dry run: nothing changed" in result.stdout


def _readable_by_others(path: Path) -> bool:
    """Whether an ordinary user can reach the checkout (a clone under a mode-700 temp dir is not)."""
    return all(p.stat().st_mode & 0o005 == 0o005 for p in [path, *path.parents] if p != Path("/"))


def test_without_root_it_says_so(tmp_path, monkeypatch, capsys):
    from gateway.commands import install as install_command
    from gateway.cli import build_parser

    is_root = os.geteuid() == 0  # before the patch below, which is process-wide
    # In-process as a non-root user, wherever the checkout lives.
    with monkeypatch.context() as patch:
        patch.setattr(install_command.os, "geteuid", lambda: 1000)
        args = build_parser("install").parse_args(["install"])
        assert args._run(args) == 1
    err = capsys.readouterr().err
    assert "must run as root" in err and "--root DIR" in err

    # And for real, as an ordinary user, where that user can read the checkout.
    if is_root:
        if shutil.which("setpriv") is None or not _readable_by_others(ROOT):
            return
        result = install(user=65534)
    else:
        result = install()
    assert result.returncode == 1
    assert "must run as root" in result.stderr and "--root DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_install_is_a_tally_command():
    result = subprocess.run([str(TALLY), "install", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--root" in result.stdout and "--dry-run" in result.stdout
