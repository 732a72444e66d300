"""Smart charging (OCPP 1.6 Smart Charging profile): charging profiles, their validation, the
composite schedule, what each station holds, and the operator API (docs/smart-charging.md)."""
