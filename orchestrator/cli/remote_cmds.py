"""``dagq workflows``, ``dagq runs`` and ``dagq queues``: the API from the command line.

The commands live in :mod:`orchestrator.cli.remote`; this module is the name the lazy
command table points at.
"""

from __future__ import annotations

from orchestrator.cli.remote import insight
from orchestrator.cli.remote.queues import queues
from orchestrator.cli.remote.runs import runs
from orchestrator.cli.remote.workflows import workflows

# What happened in past runs (replay, Gantt, diff, stats) lives in its own module.
for _cmd in (insight.replay, insight.gantt, insight.diff):
    runs.add_command(_cmd)
workflows.add_command(insight.stats)

__all__ = ["queues", "runs", "workflows"]
