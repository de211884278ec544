"""What Django's debug pages and error emails may show of settings and the environment."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hides every setting, request header or environment variable whose name may hold a secret.

    Django hides names with API, TOKEN, KEY, SECRET, PASS or SIGNATURE; URLs and DSNs carry
    credentials too (DATABASE_URL, the chat webhook, a Redis or model endpoint URL), and whole
    dict settings do (DATABASES, Q_CLUSTER's broker, MARKETINGAI_LLM). Under runserver the
    environment variables are part of request.META, so the same names are hidden there.
    """

    hidden_settings = re.compile(
        r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|AUTH|CREDENTIAL|DATABASE|URL|URI|DSN|WEBHOOK|REDIS|BROKER"
        r"|^Q_CLUSTER$|^MARKETINGAI_LLM$"
        # The trace exporter's headers (a collector's API key) and endpoint.
        r"|^OTEL_EXPORTER_OTLP",
        flags=re.IGNORECASE,
    )
