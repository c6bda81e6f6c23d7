"""``dagq web``: building the server from the settings and announcing the sign-in URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner

from orchestrator.errors import ConfigError
from orchestrator.keys import Keys
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.settings import ApiSection, Settings, WebSection
from serve.server import DagqServer
from serve.web_cmd import announce, api_url_of, build_server, web

_REDIS = aioredis.Redis()  # never connected: building a server does no Redis I/O


def _build(settings: Settings, **options: Any) -> DagqServer:
    return build_server(settings, redis=_REDIS, keys=Keys(), **options)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    directory = ensure_policies_dir(tmp_path / "policies")
    store = UserStore.in_dir(directory)
    store.add("zed", "admin")
    store.add("amy", "admin")
    store.add("ops", "operator")
    return directory


def _settings(tmp_path: Path, **web: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        api=ApiSection(host="0.0.0.0", port=9100),
        web=WebSection.model_validate({"port": 8123, "max_apps": 7, **web}),
    )


def test_api_url_defaults_to_the_api_host_and_port(tmp_path: Path) -> None:
    assert api_url_of(_settings(tmp_path)) == "http://127.0.0.1:9100"
    given = Settings(data_dir=tmp_path, api=ApiSection(url="https://api.example.org/"))
    assert api_url_of(given) == "https://api.example.org"


def test_build_server_from_settings(tmp_path: Path, policies: Path) -> None:
    server = _build(_settings(tmp_path, idle_timeout="10m"), policies=policies)
    assert server.port == 8123 and server.max_apps == 7 and server.idle_timeout_s == 600
    assert server.api_url == "http://127.0.0.1:9100"
    assert server.admin_user == "amy"  # the first enabled admin by name
    assert server.login_url.startswith("http://127.0.0.1:8123/?token=")
    # The API token secret was created in the data dir, and the minter uses it.
    assert (tmp_path / "data" / "jwt.secret").exists()
    assert server.token_minter("ops", "workflow_operator").count(".") == 2


def test_build_server_options_override(tmp_path: Path, policies: Path) -> None:
    server = _build(
        _settings(tmp_path),
        policies=policies,
        port=0,
        host="0.0.0.0",
        public_url="https://dagq.example.org/",
        api_url="http://api:1",
        admin="zed",
        app_command="my-app --flag",
    )
    assert server.command == "my-app --flag"
    assert server.login_url.startswith("https://dagq.example.org/?token=")
    assert server.admin_user == "zed" and server.api_url == "http://api:1"
    with pytest.raises(ConfigError, match="not an enabled user"):
        _build(_settings(tmp_path), policies=policies, admin="ops-not-there")


def test_announce_prints_the_one_time_link(
    tmp_path: Path, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _build(_settings(tmp_path), policies=policies)
    announce(server)
    out = capsys.readouterr().out
    assert server.login_url in out and "amy" in out


def test_announce_without_an_admin_points_at_the_login_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _build(_settings(tmp_path), policies=tmp_path / "empty")
    assert server.admin_user is None
    announce(server)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/login" in out and "dagq user add" in out


def test_web_command_reports_bad_options_without_a_traceback(
    data_dir: Path, policies: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGQ_REDIS_URL", redis_url)
    result = CliRunner().invoke(web, ["--policies", str(policies), "--admin", "nobody"])
    assert result.exit_code == 2  # it cannot start as asked (cli/exits.py)
    assert "not an enabled user" in result.output
    assert "Traceback" not in result.output
