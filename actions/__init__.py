"""Frontline's custom actions, one module per feature; `rasa run actions --actions actions` loads them all."""
