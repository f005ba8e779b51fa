"""Gunicorn settings for `make serve` (`gunicorn -c python:outreach.ops.serving`); gunicorn
reads the names it knows from this module and ignores the rest."""

from __future__ import annotations

import gc
from typing import Any


def freeze_startup_heap() -> None:
    """Take what start-up allocated (modules, the app, SQLAlchemy's mappers: ~170k objects)
    out of the garbage collector's sight. Otherwise every full collection walks them all again:
    a pause of about 100 ms every few requests on pages that allocate much, such as the board."""
    gc.collect()
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    """Gunicorn calls this in each worker once the app is loaded."""
    freeze_startup_heap()
