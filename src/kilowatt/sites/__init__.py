"""Sites: the places of a tenant where its stations stand (the model is in ``tenants.models``)."""
