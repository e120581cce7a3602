"""What a Pi owner installs: a wheel built from the checkout, and the Debian packaging's consistency.

The wheel is built from a copy of the project's files, installed into a fresh venv (its dependencies from
the test venv, so no network), and used from there: `tally --help`, `check-config`, `decode`, and
`install --root`, which must find the units, rules and example config among the wheel's data files.
Building the .deb and installing it into a fresh Debian is tests/test_packaging_deb.py (slow, not in the
default run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

from tests.helpers.gateway import ROOT

DEBIAN = ROOT / "debian"


def project_files() -> list[str]:
    """The files a release is made of: tracked and new ones, not what .gitignore names (.venv, build/)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).exists()]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for name in project_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    dist = base / "dist"
    # No build isolation: the test venv's setuptools builds it, so the test needs no network.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(source)], check=True, capture_output=True)
    [wheel] = dist.glob("tally_gateway-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies (paho-mqtt, pyserial, biip, ...) from the test venv, after the venv's own packages.
    # Its editable install of this checkout is a .pth there, which a path added this way does not run.
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # The test venv's pip, working on the fresh venv (so the scripts' #! name its python).
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True)
    return env_dir


def tally(env_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(env_dir / "bin" / "tally"), *args], capture_output=True, text=True, env=env,
                          cwd="/", check=check, timeout=60)


def test_the_wheel_runs_from_a_fresh_venv(wheel_venv):
    where = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
                           capture_output=True, text=True, check=True, cwd="/").stdout
    assert where.startswith(str(wheel_venv)), where  # the wheel's copy, not the checkout
    assert "run" in tally(wheel_venv, "--help").stdout
    example = wheel_venv / "share" / "tally" / "config" / "tally.toml"
    assert example.is_file()
    checked = tally(wheel_venv, "check-config", "-c", str(example))
    assert checked.returncode == 0, checked.stderr
    decoded = json.loads(tally(wheel_venv, "decode", "0100614141999996").stdout)
    assert decoded["valid"] and "00614141999996" in json.dumps(decoded)


def test_tally_install_finds_its_files_in_the_wheel(wheel_venv, tmp_path):
    stage = tmp_path / "root"
    result = tally(wheel_venv, "install", "--root", str(stage))
    assert result.returncode == 0, result.stderr
    unit = (stage / "etc/systemd/system/tally.service").read_text()
    assert f"ExecStart={wheel_venv}/bin/tally run -c /etc/tally/tally.toml" in unit
    assert (stage / "etc/udev/rules.d/99-tally.rules").read_bytes() == (ROOT / "config/99-tally.rules").read_bytes()
    assert (stage / "etc/tally/tally.toml").read_bytes() == (ROOT / "config/tally.toml").read_bytes()


def test_the_wheel_carries_the_package_data(wheel_venv):
    site = next((wheel_venv / "lib").glob("python3*/site-packages"))
    for name in ("EPCIS-JSON-Schema.json", "epcis-context.jsonld", "SOURCE.md"):
        assert (site / "gateway" / "epcis" / name).is_file(), name
    assert not (site / "tests").exists()  # the test suite stays out of the wheel


# ---- the Debian packaging: consistent with the project, without building it -----------------------------

def control_paragraphs() -> list[dict[str, str]]:
    paragraphs, current, key = [], {}, None
    for line in (DEBIAN / "control").read_text().splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, None
        elif line[0] in " \t":
            assert key, line
            current[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def test_debian_version_is_the_project_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    changelog = subprocess.run(["dpkg-parsechangelog", "-l", str(DEBIAN / "changelog"), "-S", "Version"],
                               capture_output=True, text=True, check=True).stdout.strip()
    assert re.sub(r"-[^-]+$", "", changelog) == version


def test_debian_control_names_one_binary_package_tally():
    source, *binaries = control_paragraphs()
    assert source["Source"] == "tally"
    assert "dh-virtualenv" in source["Build-Depends"]
    assert [b["Package"] for b in binaries] == ["tally"]
    assert "adduser" in binaries[0]["Depends"] and "${tally:Python}" in binaries[0]["Depends"]


def test_debhelper_sequence_parses():
    """The real debian/rules under DH_NO_ACT: control, the overrides and the dh-virtualenv add-on parse."""
    env = {**os.environ, "DH_NO_ACT": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    result = subprocess.run(["debian/rules", "binary"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    for step in ("dh_virtualenv", "dh_installsystemd", "dh_installudev", "dh_gencontrol", "dh_builddeb"):
        assert step in result.stdout, result.stdout


def test_debian_files_name_what_the_project_ships():
    rules = (DEBIAN / "rules").read_text()
    for path in ("systemd/$$unit", "config/99-tally.rules"):
        assert path in rules
    for unit in ("tally.service", "tally@.service"):
        text = (ROOT / "systemd" / unit).read_text()
        assert re.search(r"^ExecStart=/usr/local/bin/tally ", text, re.M), f"debian/rules rewrites it: {unit}"
    for line in (DEBIAN / "tally.install").read_text().split("\n"):
        if line.strip():
            assert (ROOT / line.split()[0]).is_file(), line
    for line in (DEBIAN / "tally.links").read_text().split("\n"):
        if line.strip():
            assert line.split()[1] == "usr/bin/tally" and line.startswith("opt/venvs/tally/bin/")


def test_debian_sysusers_match_tally_install():
    from gateway.commands.install import SYSUSERS

    def entries(text: str) -> set[tuple[str, ...]]:
        return {tuple(re.findall(r'"[^"]*"|\S+', line)) for line in text.splitlines()
                if line.strip() and not line.startswith("#")}

    assert entries((DEBIAN / "tally.sysusers").read_text()) == entries(SYSUSERS)


def test_maintainer_script_is_posix_sh():
    postinst = DEBIAN / "tally.postinst"
    assert "#DEBHELPER#" in postinst.read_text()
    subprocess.run(["dash", "-n", str(postinst)], check=True)  # Debian's /bin/sh runs it
