"""Frontline's Rasa NLU components, referenced in `config.yml` by module path."""
