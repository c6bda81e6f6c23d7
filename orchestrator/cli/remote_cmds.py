"""``dagq workflows``, ``dagq runs``, ``dagq approvals``, ``dagq queues``: the API from the CLI.

The commands live in :mod:`orchestrator.cli.remote`; this module is the name the lazy
command table points at.
"""

from __future__ import annotations

from orchestrator.cli.remote import approvals as _approvals
from orchestrator.cli.remote import insight
from orchestrator.cli.remote.queues import queues
from orchestrator.cli.remote.runs import runs
from orchestrator.cli.remote.workflows import workflows

# What happened in past runs (replay, Gantt, diff, stats) lives in its own module.
for _cmd in (insight.replay, insight.gantt, insight.diff):
    runs.add_command(_cmd)
workflows.add_command(insight.stats)
# Deciding approvals and sending signals too.
for _cmd in (_approvals.approve, _approvals.reject, _approvals.signal):
    runs.add_command(_cmd)
approvals = _approvals.approvals

__all__ = ["approvals", "queues", "runs", "workflows"]
