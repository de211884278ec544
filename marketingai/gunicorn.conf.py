"""gunicorn settings for the web tier (`make serve`: python -m gunicorn -c marketingai/gunicorn.conf.py).

Read from the environment (and MARKETINGAI_ENV_FILE, as manage.py does): MARKETINGAI_BIND,
WEB_CONCURRENCY, MARKETINGAI_WEB_TIMEOUT. gunicorn's own FORWARDED_ALLOW_IPS and
GUNICORN_CMD_ARGS still apply.
"""

import os

from marketingai.envfile import load_env_file

load_env_file()

wsgi_app = "marketingai.wsgi:application"
bind = [os.environ.get("MARKETINGAI_BIND") or "127.0.0.1:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# A request running longer than this is stopped and its worker replaced.
timeout = int(os.environ.get("MARKETINGAI_WEB_TIMEOUT") or 60)
graceful_timeout = 30
# Behind the reverse proxy's keep-alive connections.
keepalive = 5
# Replace each worker now and then, so a slow leak never grows.
max_requests = 1000
max_requests_jitter = 100
proc_name = "marketingai-web"
# gunicorn's control socket is not used here; its one default path would be shared by two servers.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# No query string or referrer: they may carry search terms and addresses.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
