"""Publishing's system check: a send in flight is never taken for a stopped worker."""

from publishing.checks import check_stale_limit


def test_the_stale_limit_must_exceed_the_longest_send(settings):
    settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT = 30.0
    settings.MARKETINGAI_PUBLISH = {"MAX_TRIES": 3, "MAX_RETRY_AFTER_SECONDS": 30.0}
    assert check_stale_limit() == []  # the default, 300 s, is above 3 x (30 + 30) s

    settings.MARKETINGAI_PUBLISH = {**settings.MARKETINGAI_PUBLISH, "STALE_SENDING_SECONDS": 120}
    (warning,) = check_stale_limit()
    assert warning.id == "publishing.W001" and "180 s" in warning.msg
