"""Production settings Django's own deploy checks do not cover (`manage.py check --deploy`).

Each is an error: a server started with it misbehaves in a way no warning should wave through.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core import checks
from django.core.files.storage import storages
from django.http.request import validate_host

LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_production_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    hosts = list(settings.ALLOWED_HOSTS)
    if "*" in hosts:
        errors.append(
            checks.Error(
                "MARKETINGAI_ALLOWED_HOSTS holds '*': the server answers any Host header, so links it "
                "builds from a request can be made to point at another site.",
                hint="List the host names the site is served under, e.g. marketingai.example.com.",
                id="marketingai.E001",
            )
        )
    insecure_origins = [o for o in settings.CSRF_TRUSTED_ORIGINS if o.lower().startswith("http:")]
    if insecure_origins:
        errors.append(
            checks.Error(
                f"MARKETINGAI_CSRF_TRUSTED_ORIGINS trusts plain-http origins ({', '.join(insecure_origins)}): "
                "a page served without TLS may then post forms to the admin.",
                hint="Trust https:// origins only.",
                id="marketingai.E002",
            )
        )
    public = urlsplit(settings.MARKETINGAI_PUBLIC_URL)
    public_host = public.hostname or ""
    if public.scheme != "https" and not _is_loopback(public_host):
        errors.append(
            checks.Error(
                f"MARKETINGAI_PUBLIC_URL ({settings.MARKETINGAI_PUBLIC_URL}) is not an https URL: links "
                "in review notifications would send reviewers to the admin over plain http.",
                hint="Set it to the https address people use, e.g. https://marketingai.example.com.",
                id="marketingai.E003",
            )
        )
    if public_host and not validate_host(public_host, hosts):
        errors.append(
            checks.Error(
                f"The host of MARKETINGAI_PUBLIC_URL ({public_host}) is not in MARKETINGAI_ALLOWED_HOSTS: "
                "links in review notifications would be answered with 400 Bad Request.",
                hint=f"Add {public_host} to MARKETINGAI_ALLOWED_HOSTS, or correct MARKETINGAI_PUBLIC_URL.",
                id="marketingai.E004",
            )
        )
    if not settings.IS_SQLITE and not getattr(settings, "SECRET_KEY_FROM_ENV", True):
        errors.append(
            checks.Error(
                "DJANGO_SECRET_KEY is not set while the database is shared (DATABASE_URL): each host "
                "signs sessions with the key it generated, so a login on one host fails on another.",
                hint="Set DJANGO_SECRET_KEY to one long random value, the same on every host.",
                id="marketingai.E005",
            )
        )
    static = storages["staticfiles"]
    if (
        not settings.DEBUG
        and isinstance(static, ManifestFilesMixin)
        and not static.manifest_storage.exists(static.manifest_name)
    ):
        errors.append(
            checks.Error(
                f"The static files are not collected into {settings.STATIC_ROOT}: with debug off every "
                "admin page fails until they are.",
                hint="Run `python manage.py collectstatic --noinput` (make serve does) after each upgrade.",
                id="marketingai.E006",
            )
        )
    return errors
