"""Identity, authorization, audit and rate limits, free of any HTTP framework.

``users`` (the users file: hashed API keys and passwords), ``tokens`` (bearer JWTs),
``rbac`` (the Casbin authorizer with hot reload), ``audit`` (Redis stream plus a
JSON-lines file), ``ratelimit`` (per-user limits in Redis) and ``policy_file``
(the policies directory on disk).
"""
