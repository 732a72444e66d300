"""Site load management: a site's grid-connection limit divided among its charging sessions."""
