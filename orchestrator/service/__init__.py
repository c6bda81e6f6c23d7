"""Services over Redis shared by the API, the command line and the orchestrator loop."""
