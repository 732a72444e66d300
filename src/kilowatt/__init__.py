"""Kilowatt: an OCPP charging station management system."""
