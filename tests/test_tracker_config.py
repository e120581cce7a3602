"""The tracker's config: as strict as the gateway's, checked by `tally check-config`, run by `tally tracker`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.config import ConfigError
from tests.helpers.gateway import ROOT
from tracker import config as tracker_config


def tally(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)


def test_defaults_and_paths_relative_to_the_file(tmp_path):
    path = tmp_path / "tracker.toml"
    path.write_text('[tracker]\nid = "central-1"\nstore = "sqlite:data/events.sqlite3"\n[mqtt]\nhost = ["a", "b:1884"]\n')
    config = tracker_config.load(path)
    assert config.store == f"sqlite:{tmp_path / 'data/events.sqlite3'}"
    assert config.tracker["share_group"] == "tracker" and config.tracker["listen"] == "127.0.0.1:8080"
    assert [str(b) for b in config.brokers] == ["a:1883", "b:1884"]
    assert config.topic_root == "tally"


@pytest.mark.parametrize("text, problem", [
    ('[tracker]\nid = "x"\n', "mqtt: missing section"),
    ('[tracker]\nid = "a b"\n[mqtt]\nhost = "h"\n', "tracker.id:"),
    ('[tracker]\nid = "x"\nstore = "mysql://h"\n[mqtt]\nhost = "h"\n', "tracker.store:"),
    ('[tracker]\nid = "x"\nlisten = "nowhere"\n[mqtt]\nhost = "h"\n', "tracker.listen:"),
    ('[tracker]\nid = "x"\nshare_group = "a/b"\n[mqtt]\nhost = "h"\n', "tracker.share_group:"),
    ('[tracker]\nid = "x"\nstroe = "sqlite:x"\n[mqtt]\nhost = "h"\n', "tracker.stroe: unknown key"),
    ('[tracker]\nid = "x"\n[mqtt]\nhost = "h"\nport = 0\n', "mqtt.port:"),
    ('[tracker]\nid = "x"\n[mqtt]\nhost = "h"\nusername = "u"\npassword_file = "nope"\n', "mqtt.password_file:"),
    ('[tracker]\nid = "x"\n[mqtt]\nhost = "h"\n[device]\n', "device: unknown section"),
])
def test_every_problem_is_named_by_its_key(tmp_path, text, problem):
    path = tmp_path / "tracker.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        tracker_config.load(path)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_check_config_knows_a_tracker_file(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[tracker]\nid = "central-1"\n[mqtt]\nhost = "broker"\n')
    result = tally("check-config", "-c", str(good))
    assert result.returncode == 0 and "tracker central-1" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[tracker]\nid = "central 1"\nbatch = 0\n[mqtt]\nhots = "broker"\n')
    result = tally("check-config", "-c", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert {line.split(": ")[1] for line in lines} == {"tracker.id", "tracker.batch", "mqtt.hots", "mqtt.host"}
    assert tally("tracker", "-c", str(bad)).returncode == 2


def test_a_store_password_stays_out_of_messages():
    from tracker.db import PostgreSQL, StoreError, redacted

    assert redacted("postgresql://tally:s3cret@db.example/tally") == "postgresql://tally:***@db.example/tally"
    assert redacted("postgresql://tally@db.example/tally") == "postgresql://tally@db.example/tally"
    with pytest.raises(StoreError) as info:
        PostgreSQL("postgresql://tally:s3cret@127.0.0.1:1/tally?connect_timeout=2").connect()
    assert "s3cret" not in str(info.value)


def test_every_key_is_documented():
    text = (ROOT / "docs" / "tracker.md").read_text()
    missing = [key for key in tracker_config.TRACKER if f"`tracker.{key}`" not in text]
    assert missing == []
