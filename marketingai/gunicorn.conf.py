"""gunicorn settings for the web tier (`make serve`: python -m gunicorn -c marketingai/gunicorn.conf.py).

Read from the environment (and MARKETINGAI_ENV_FILE, as manage.py does): MARKETINGAI_BIND,
WEB_CONCURRENCY, MARKETINGAI_WEB_TIMEOUT. gunicorn's own FORWARDED_ALLOW_IPS and
GUNICORN_CMD_ARGS still apply.
"""

import os
import re

from gunicorn.glogging import Logger

from marketingai.envfile import load_env_file

load_env_file()

wsgi_app = "marketingai.wsgi:application"
bind = [os.environ.get("MARKETINGAI_BIND") or "127.0.0.1:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# A request running longer is killed and its worker replaced (an admin export included).
timeout = int(os.environ.get("MARKETINGAI_WEB_TIMEOUT") or 60)
graceful_timeout = 30
# Behind the reverse proxy's keep-alive connections.
keepalive = 5
# Replace each worker now and then, so a slow leak never grows.
max_requests = 1000
max_requests_jitter = 100
proc_name = "marketingai-web"
accesslog = "-"
errorlog = "-"
# No query string, referrer or cookies: they may carry tokens.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# The token in an event trigger's URL (/triggers/events/<token>/) is its credential.
TRIGGER_TOKEN = re.compile(r"^(/triggers/events/)[^/]+")


class RedactingLogger(Logger):
    """The access log without event triggers' URL tokens."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = TRIGGER_TOKEN.sub(r"\1<token>", atoms.get("U") or "")
        return atoms


logger_class = RedactingLogger
