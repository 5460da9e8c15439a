"""The gateway as ``app.build`` makes it, for the contract tests of its public API."""

from services.gateway.tests.conftest import auth, make_gateway, whole_gateway

__all__ = ["auth", "make_gateway", "whole_gateway"]
