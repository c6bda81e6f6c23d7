"""The session (identity, permissions, connection state), the connecting screen, and the
app's entry points on a bad environment."""

from __future__ import annotations

import socket

import pytest

from app.__main__ import EXIT_BAD_ENVIRONMENT, main
from app.factory import create_app
from app.screens.connecting import ConnectingScreen
from app.session import ConnectionState, Session, StateChange, describe_error, role_plural
from orchestrator.client import DagqClient
from orchestrator.errors import SpecInvalid, Unavailable
from orchestrator.settings import Settings
from tests.tui.conftest import Tui, wait_for


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_reasons_and_roles() -> None:
    session = Session(DagqClient("http://127.0.0.1:1", api_key="k"), Settings())
    assert session.reason("workflow:update").startswith("cannot save workflows yet")
    session.role, session.state = "workflow_operator", ConnectionState.CONNECTED
    assert session.reason("workflow:update") == "operators cannot save workflows (workflow:update)"
    session.permissions = frozenset({"workflow:update"})
    assert session.can("workflow:update") and session.reason("workflow:update") == ""
    assert role_plural(None) == "users without a role"
    assert role_plural("workflow_admin") == "admins"


def test_describe_error_lists_the_servers_problems() -> None:
    exc = SpecInvalid("x", details={"errors": [{"message": f"problem {i}"} for i in range(5)]})
    assert describe_error(exc) == "problem 0; problem 1; problem 2 (+2 more)"
    assert describe_error(FileNotFoundError(2, "No such file or directory", "/x")) == (
        "No such file or directory: /x"
    )


async def test_a_lost_api_is_a_state_not_a_crash(tui: Tui) -> None:
    session = Session(DagqClient(f"http://127.0.0.1:{closed_port()}", api_key="k"), Settings())
    heard: list[StateChange] = []
    session.subscribe(heard.append)
    with pytest.raises(Unavailable):
        await session.call(session.client.whoami())
    assert session.state is ConnectionState.LOST
    assert heard and "connection refused" in (heard[-1].detail or "")
    # the same session pointed at a live API connects again
    session.client = tui.client("designer")
    await session.reconnect()
    assert session.connected and session.user == "dee"
    assert session.can("workflow:update") and not session.can("workflow:execute")
    await session.aclose()


async def test_app_waits_on_the_connecting_screen() -> None:
    client = DagqClient(f"http://127.0.0.1:{closed_port()}", api_key="k")
    app = create_app(client=client, settings=Settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.session.state is ConnectionState.LOST, what="lost")
        assert isinstance(app.screen, ConnectingScreen)
        await pilot.press("1")  # modes wait for the connection
        assert isinstance(app.screen, ConnectingScreen)


@pytest.mark.parametrize(
    "env",
    [
        {"DAGQ_API_URL": "ftp://x"},
        {"DAGQ_API_URL": "http://127.0.0.1:1"},
    ],
)
def test_main_refuses_a_bad_environment(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(env) == EXIT_BAD_ENVIRONMENT
    err = capsys.readouterr().err
    assert err.startswith("dagq app: ") and "Traceback" not in err
