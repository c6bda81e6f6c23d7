"""The command line over the HTTP API: ``dagq workflows``, ``dagq runs``, ``dagq queues``.

Each command reaches the API given by ``--api``/``--key`` (or ``DAGQ_API_URL``/
``DAGQ_API_KEY``), else the local stack ``dagq up`` recorded in ``<data dir>/local.json``.
"""
