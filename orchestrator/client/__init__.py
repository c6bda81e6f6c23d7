"""A typed async client of the dagq HTTP API, used by the TUI and the command line.

One method per operation of the design's WorkflowAPI (plus the administration
endpoints), over one aiohttp session, and :func:`follow_run`, which follows a run's
events across dropped connections until it ends::

    async with DagqClient("http://127.0.0.1:8080", api_key=key) as api:
        run = await api.start_run("pipeline", {"records": 10})
        async for item in follow_run(api, run.runId):
            if not isinstance(item, LinkChange):
                print(item.type, item.nodeId)

Answers are the API's response models (:mod:`orchestrator.wire`, camelCase fields as on
the wire; ``as_json()`` is the JSON the server sent).  ``http.py`` holds the session and
the event stream, the calls are grouped in mixins (``workflows.py``, ``runs.py``,
``admin.py``, ``approvals.py``, ``triggers.py``, ``jobs.py``, ``users.py``) over
``base.py``'s one request-and-parse; ``follow.py`` is the one reconnect loop,
``config.py`` how a client finds its API (explicit values, the environment, the local
stack).
"""

from __future__ import annotations

from orchestrator.client.config import LOCAL_CONFIG, client_for, local_config
from orchestrator.client.follow import Followed, Link, LinkChange, backoff_s, follow_run
from orchestrator.client.http import PREFIX, DagqClient, Page, RunStatus

__all__ = [
    "LOCAL_CONFIG",
    "PREFIX",
    "DagqClient",
    "Followed",
    "Link",
    "LinkChange",
    "Page",
    "RunStatus",
    "backoff_s",
    "client_for",
    "follow_run",
    "local_config",
]
