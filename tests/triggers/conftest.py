"""The API tests' fixtures (a real Redis, one user per role, in-process apps)."""

from tests.api.conftest import api, make_api, policies, role_keys, settings

__all__ = ["api", "make_api", "policies", "role_keys", "settings"]
