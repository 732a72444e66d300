"""Firmware Management (OCPP 1.6): firmware files served at signed URLs, update campaigns
across stations, and diagnostics uploads received by Kilowatt itself (docs/firmware.md)."""
