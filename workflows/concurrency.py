"""Model calls at a time: how many, and a bounded pool that hands results back in order.

Worker threads only call the model; the caller's thread does every database write (SQLite has
one writer), and reads results in the order it asked for them, whatever order they finish in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings

from workflows import localmodel, telemetry
from workflows.transactions import refuse_inside_transaction

_NOTHING = object()
Item = TypeVar("Item")
Result = TypeVar("Result")


def calls_at_a_time(endpoint, wanted: int | None = None) -> int:
    """``wanted`` (default: the setting MARKETINGAI_LLM["CONCURRENCY"]), but never more than the
    bundled model serves at once: its server queues every other request."""
    if wanted is None:
        wanted = int(settings.MARKETINGAI_LLM.get("CONCURRENCY", 4))
    wanted = max(1, int(wanted))
    if endpoint.is_bundled_local_model:
        return min(wanted, localmodel.CALLS_AT_A_TIME)
    return wanted


def in_order(
    function: Callable[[Item], Result], items: Iterable[Item], *, workers: int
) -> Iterator[Result]:
    """Yield ``function(item)`` for each item, in the items' order, with up to ``workers`` running at once.

    Items are taken from ``items`` as it yields them, so a caller's generator may prepare the next
    ones while the first calls wait on the network. An exception is raised when its item's turn
    comes. When the caller stops early (or raises), calls not yet started are cancelled and the
    ones under way are waited for. With one worker, the calls run one after another on the
    caller's thread. Refuses inside a transaction: the calls would hold it open for their whole
    network wait.
    """
    items = iter(items)
    first = next(items, _NOTHING)
    if first is _NOTHING:
        return
    refuse_inside_transaction("Model calls")
    items = itertools.chain([first], items)
    if workers <= 1:
        for item in items:
            yield function(item)
        return
    # The calls' spans belong to the caller's (the run's step), not to a trace of their own.
    call = telemetry.in_current_context(function)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="model")
    try:
        futures = [pool.submit(call, item) for item in items]
        for future in futures:
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
