#!/usr/bin/env bash
# Production serving (`make serve`): migrate, then the web app under gunicorn and the scheduler
# process(es) beside it, until Ctrl-C or SIGTERM stops them all. When one of them exits on its
# own, the others are stopped too, so that a service manager sees the failure and restarts.
#
#   WEB_CONCURRENCY      gunicorn worker processes (default 2)
#   WEB_THREADS          threads per worker (default 4)
#   SCHEDULER_PROCESSES  scheduler processes (default 1; several share the work safely)
#   HOST, PORT           where gunicorn listens (default: the settings, e.g. config/*.toml)
#   VENV                 the virtualenv (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${VENV:-.venv}/bin"
WORKERS="${WEB_CONCURRENCY:-2}"
THREADS="${WEB_THREADS:-4}"
SCHEDULERS="${SCHEDULER_PROCESSES:-1}"

# Also creates the generated keys in the instance folder (if none are configured) before any
# worker starts, so that all workers read the same ones instead of racing to write them.
"$BIN/flask" --app app db upgrade
BIND="$("$BIN/python" -c 'from app import app; s = app.extensions["outreach"].settings; print(f"{s.host}:{s.port}")')"

pids=()
stop() {
    trap - INT TERM
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    wait
}
trap 'stop; exit 0' INT TERM

"$BIN/gunicorn" app:app \
    --config python:outreach.ops.serving \
    --bind "$BIND" \
    --workers "$WORKERS" \
    --threads "$THREADS" \
    --timeout 120 \
    --graceful-timeout 30 \
    --no-control-socket &
pids+=("$!")
for _ in $(seq "$SCHEDULERS"); do
    "$BIN/flask" --app app scheduler &
    pids+=("$!")
done
echo "outreach: gunicorn on http://$BIND/ ($WORKERS workers), $SCHEDULERS scheduler process(es)" >&2

# The first child to exit ends the lot; its exit status becomes ours.
status=0
wait -n || status=$?
echo "outreach: a process exited (status $status); stopping the others" >&2
stop
exit "$status"
