"""Accounts: drivers and operators who log in, their refresh tokens, and tenants' API keys."""
