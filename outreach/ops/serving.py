"""Process start-up for the web workers and the scheduler. Gunicorn reads its hooks from this
module (`gunicorn -c python:outreach.ops.serving`, see scripts/serve.sh): the names it knows, such
as `post_worker_init`; it ignores the rest."""

from __future__ import annotations

import gc
from typing import Any

from sqlalchemy.orm import configure_mappers


def freeze_loaded_app() -> None:
    """Everything loaded by now (the app, its models, the libraries: ~170k objects) lives as
    long as the process. Moved out of the collector's sight, a full collection no longer rescans
    it: otherwise a page that allocates much (the board) or a pass of link checks sets off a
    ~100 ms collection every few runs. The ORM's mappers are configured first (else the first
    query does it), so that what they build is frozen too."""
    configure_mappers()
    gc.collect()
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    """Gunicorn calls this in each worker once the app is loaded."""
    freeze_loaded_app()
