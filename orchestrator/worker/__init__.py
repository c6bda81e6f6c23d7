"""Workers: the ``@handler`` registry, the live-worker directory and the worker process."""
