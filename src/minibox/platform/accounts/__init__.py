"""Organisations (tenants), users, roles, sessions, API tokens."""
