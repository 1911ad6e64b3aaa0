"""Production on one machine: N Rasa servers, N action servers and N desks behind HAProxy, supervised.

`python -m bot run --production --replicas N` (`make run-production REPLICAS=N`) starts the layout that
`deploy/README.md` maps onto systemd and Kubernetes:

- `layout.py`: which process listens where (`plan()`): public ports 5005 (assistant) and 5006 (desk), the
  internal action port 5055 and HAProxy's statistics on 8404, replicas on 5101…, 5201…, 5301….
- `haproxy.py`: HAProxy's configuration rendered from `deploy/haproxy.cfg.template`, checked with `haproxy -c`,
  and HAProxy's view of its servers (its statistics page).
- `supervisor.py`: starts each process, restarts one that dies (with a backoff; it gives up on one that dies in
  a loop), and keeps `$FRONTLINE_VAR/run/<name>.pid` true.
- `launcher.py`: the command: checks before anything starts, the processes and their environment, Ctrl-C.
"""
