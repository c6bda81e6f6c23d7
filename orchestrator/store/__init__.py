"""Redis I/O: connections, the embedded server, the workflow store, runs, queues and timers."""
