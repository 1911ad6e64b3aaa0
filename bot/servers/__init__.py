"""The perimeter of Frontline's three servers: where each listens, how large a request it reads, who may call it.

- `listen`: the interface each server binds (`FRONTLINE_LISTEN_HOST` for the Rasa server and the desk, the
  action server on loopback unless `FRONTLINE_ACTIONS_HOST` says otherwise).
- `request_limits`: the largest request body each server reads (`settings.yml: servers.request_max_bytes`).
- `action_token`: the shared token the action server demands of the Rasa server (`FRONTLINE_ACTION_TOKEN`).
- `process_secrets`: which secrets each process is given.
- `rasa_server`, `action_server`: `python -m bot rasa` and `python -m bot actions`, the launchers `make run`
  starts (secrets from the environment, never on a command line).

The threat model and the settings: `docs/security/perimeter.md`.
"""
