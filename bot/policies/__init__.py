"""Frontline's Rasa policies, referenced in `config.yml` by module path."""
