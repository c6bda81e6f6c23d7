"""dagq: workflows over Redis.

Handler authors need only ``from orchestrator import handler`` (and
``HandlerContext`` for type hints); this module stays light on purpose.
"""

from orchestrator.worker.registry import HandlerContext, handler

__all__ = ["HandlerContext", "handler"]
