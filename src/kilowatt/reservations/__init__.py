"""Reservations (OCPP 1.6 Reservation profile): ReserveNow / CancelReservation, expiry, use."""
