"""Default Casbin model and policy shipped with dagq (``policies/`` in the repo: same text)."""
