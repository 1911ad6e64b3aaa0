"""Forecast and staffing: contacts per hour ahead (`forecast`), agents needed (`erlang_c`), their settings
(`config`), the plan the desk serves (`plan`) and the simulated traffic that gives a new desk a history
(`traffic`). Pure modules: nothing here imports sanic or opens a database."""
