"""What the guarded client tells a caller that retries: the answer's status and Retry-After, and
whether the request may have been sent (the kernel's part of exactly-once publishing)."""

from __future__ import annotations

import socket

import pytest

from publishing.adapters.base import Rejected, Retryable, Unanswered, classify, retry_after_seconds
from tests.publishing.fakes import KEYED_PATH
from workflows import outbound


def test_an_error_answer_carries_its_status_and_retry_after(provider):
    provider.script(KEYED_PATH, ("429", 7))

    with pytest.raises(outbound.OutboundError) as error:
        outbound.post_json(provider.url(KEYED_PATH), {}, headers={"Idempotency-Key": "k"})

    assert (error.value.status, error.value.retry_after, error.value.request_sent) == (
        429,
        "7",
        True,
    )
    retry = classify(error.value)
    assert isinstance(retry, Retryable) and retry.retry_after == 7.0


def test_a_request_accepted_and_unanswered_may_have_been_sent(provider):
    provider.script(KEYED_PATH, "accept_then_timeout")

    with pytest.raises(outbound.OutboundError) as error:
        outbound.post_json(provider.url(KEYED_PATH), {}, headers={"Idempotency-Key": "k"})

    assert error.value.status is None and error.value.request_sent is True
    assert "did not answer within" in str(error.value)
    assert isinstance(classify(error.value), Unanswered)


def test_a_connection_never_made_sent_nothing(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]

    with pytest.raises(outbound.OutboundError) as error:
        outbound.post_json(f"http://127.0.0.1:{port}/x", {})

    assert error.value.request_sent is False and error.value.status is None
    assert isinstance(classify(error.value), Retryable)


def test_a_success_carries_the_answers_headers_and_a_4xx_is_rejected(provider):
    response = outbound.post_json(provider.url(KEYED_PATH), {}, headers={"Idempotency-Key": "k"})
    assert response.headers["content-type"] == "application/json"

    with pytest.raises(outbound.OutboundError) as error:
        outbound.post_json(provider.url(KEYED_PATH), {})  # no key: 400
    assert error.value.status == 400 and isinstance(classify(error.value), Rejected)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
