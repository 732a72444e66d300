"""Local authorization lists (OCPP 1.6 Local Auth List Management profile)."""
