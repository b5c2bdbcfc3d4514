"""Flightdeck: the dp_flights claim store shared by the data-plane agent and the Pilot."""
