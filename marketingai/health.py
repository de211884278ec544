"""/healthz: whether this server reaches its database, its task broker and its model endpoint.

Public (a load balancer or a monitor asks without logging in), so it says only ok or what
failed, in a few words: never a host, a URL, a key or an exception's text. Each check runs in
its own thread, side by side, so one that hangs (a firewalled host) holds the answer no longer
than MARKETINGAI_HEALTH_TIMEOUT plus a second; none runs inside a database transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from workflows import localmodel, outbound

logger = logging.getLogger(__name__)

OK = "ok"
DEGRADED = "degraded"
ERROR = "error"
# A model list is small; a larger answer is not the endpoint we mean.
MODEL_LIST_MAX_BYTES = 1024 * 1024


class CheckFailed(Exception):
    """A check's failure, in a few words fit for a public answer."""


def check_database(timeout: float) -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Health: the database check failed: %s: %s", type(exc).__name__, exc)
        raise CheckFailed("could not query the database") from None
    return ""


def check_broker(timeout: float) -> str:
    """django-q2's own broker (ORM or Redis, as Q_CLUSTER says) answers its ping."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    try:
        broker = get_broker()
        pool = getattr(broker.connection, "connection_pool", None)
        if pool is not None and not Conf.DJANGO_REDIS:  # a Redis client of its own: bound it
            pool.connection_kwargs.update(socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            if not broker.ping():
                raise CheckFailed("the task broker did not answer its ping")
            # The ORM broker's ping always says yes: read its queue table too.
            broker.queue_size()
        finally:
            if pool is not None and not Conf.DJANGO_REDIS:
                broker.connection.close()
    except CheckFailed:
        raise
    except Exception as exc:
        logger.warning("Health: the broker check failed: %s: %s", type(exc).__name__, exc)
        raise CheckFailed("could not reach the task broker") from None
    return ""


def check_model_endpoint(timeout: float) -> str:
    """GET <OPENAI_BASE_URL>/models through the guarded outbound client, with the endpoint's key."""
    conf = settings.MARKETINGAI_LLM
    base_url = conf["BASE_URL"].rstrip("/")
    try:
        target = outbound.target_for(base_url, label="the model endpoint")
    except outbound.OutboundRefused:
        raise CheckFailed("the model endpoint URL is not an http(s) URL") from None
    try:
        outbound.request(
            "GET",
            f"{base_url}/models",
            headers={"Authorization": f"Bearer {conf['API_KEY']}", "Accept": "application/json"},
            timeout=timeout,
            max_bytes=MODEL_LIST_MAX_BYTES,
            label="the model endpoint",
            secrets_to_redact=[conf["API_KEY"]],
            # The operator's own endpoint (OPENAI_BASE_URL), often on loopback or a private host.
            also_allowed=[target.key],
        )
    except outbound.OutboundError as exc:
        logger.warning("Health: the model endpoint check failed: %s", exc)
        if exc.status is not None:
            raise CheckFailed(f"the model endpoint answered HTTP {exc.status}") from None
        if not exc.request_sent:
            raise CheckFailed("could not connect to the model endpoint") from None
        if localmodel.is_bundled_endpoint(base_url):
            # The bundled single-slot server lists its models only after the generation it is
            # busy with: connected but silent is busy, not down.
            return "busy generating"
        raise CheckFailed(f"the model endpoint gave no answer within {timeout:g} s") from None
    return ""


CHECKS: dict[str, Callable[[float], str]] = {
    "database": check_database,
    "broker": check_broker,
    "model_endpoint": check_model_endpoint,
}


def _run_one(check: Callable[[float], str], timeout: float) -> dict:
    started = time.perf_counter()
    try:
        note = check(timeout)
        result = {"status": OK}
        if note:
            result["note"] = note
    except CheckFailed as exc:
        result = {"status": ERROR, "error": str(exc)}
    except Exception as exc:  # a bug in a check says "failed", never its text
        logger.exception("Health: a check raised %s", type(exc).__name__)
        result = {"status": ERROR, "error": "the check failed"}
    finally:
        connections.close_all()  # this thread's own connections
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def health_report(*, timeout: float | None = None) -> dict:
    """{"status": "ok"|"degraded", "checks": {name: {"status", "latency_ms", ...}}}."""
    timeout = float(timeout if timeout is not None else settings.MARKETINGAI_HEALTH_TIMEOUT)
    executor = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="healthz")
    started = time.perf_counter()
    futures = {name: executor.submit(_run_one, check, timeout) for name, check in CHECKS.items()}
    # A second over the checks' own timeout, so a check that times out itself says why.
    wait(futures.values(), timeout=timeout + 1.0)
    executor.shutdown(wait=False, cancel_futures=True)
    checks = {}
    for name, future in futures.items():
        if future.done():
            checks[name] = future.result()
        else:
            logger.warning("Health: the %s check gave no answer within %g s", name, timeout)
            checks[name] = {
                "status": ERROR,
                "error": f"no answer within {timeout:g} s",
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
    status = OK if all(c["status"] == OK for c in checks.values()) else DEGRADED
    return {"status": status, "checks": checks}


@never_cache
@require_safe
def healthz(request):
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == OK else 503)
