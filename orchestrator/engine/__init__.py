"""The workflow engine: pure transitions over immutable run state.

``transitions`` maps ``(RunState, Event)`` to ``(RunState, [Command])`` with no I/O;
``orchestrator.store.runs`` applies the commands to Redis atomically.
"""
