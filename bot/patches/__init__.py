"""The one door to libraries' internals: every patch of a library's private code is a module here.

Each module patches one thing of one library, asserts at import the library version it was written for (an
upgrade then fails here, with a message saying what to re-check), and says in its docstring why the public API
was not enough. A process-wide patch has an idempotent `install()`; a patch that is a subclass hook is used by
subclassing. Call sites import from this package only.

| module | library (asserted) | what |
|---|---|---|
| `sanic_framing` | sanic ==21.12.* | `install()`: sanic's HTTP/1.1 connection class replaced, `Content-Length` checked |
| `socketio_manager` | python-socketio ==5.9.0 | `JsonRedisManager`: the Redis manager's private `_publish`/`_listen` speak JSON, never pickle; `install(sio, manager)`: the client manager of a built server swapped |
| `rasa_events` | rasa ==3.6.21 | `install()`: `Event.resolve_by_type` cached |
| `rasa_stores` | rasa ==3.6.21 | `HookedSQLTrackerStore`: the private save and read steps of Rasa's SQL tracker store as hooks |
| `rasa_rest` | rasa ==3.6.21 | `HookedRestInput`: the private request readers of Rasa's REST channel as hooks |
| `wechatpy_crypto` | wechatpy ==1.8.18 | `encrypt()`: wechatpy's private `_encrypt` with chosen random bytes |

`versions.pin` makes the check at import and returns the module's `PIN` (its installer calls `PIN.check()`
again); `PatchVersionError` is what it raises.
"""

from bot.patches.versions import PatchVersionError, Pin, pin

__all__ = ["PatchVersionError", "Pin", "pin"]
