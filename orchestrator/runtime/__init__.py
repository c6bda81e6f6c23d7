"""Process assembly: the pieces of dagq put together in one process.

``stack.LocalStack`` is the API (with its orchestrator loop) and workers of ``dagq up`` and
of ``dagq tui``'s in-process mode; ``oneshot.local_stack`` is the orchestrator and workers
of ``dagq run --wait``.  This floor sits above ``api/`` and ``worker/``: nothing below
imports it.
"""
