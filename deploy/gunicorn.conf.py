"""gunicorn's settings for crm-segments: ``gunicorn -c deploy/gunicorn.conf.py``.

The command line and GUNICORN_CMD_ARGS override anything here.
"""

import multiprocessing
import os
from pathlib import Path

wsgi_app = "config.wsgi:application"
chdir = str(Path(__file__).resolve().parent.parent)  # the checkout, wherever gunicorn starts

# Behind a reverse proxy on the same machine; GUNICORN_BIND=0.0.0.0:8000 when it is elsewhere.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers serve one request each at a time. Every worker keeps a database connection
# (CONN_MAX_AGE), so workers × machines must stay below PostgreSQL's max_connections.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A streamed CSV export of a large segment outlasts gunicorn's default of 30 s.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30

# The proxy's addresses: only they may tell gunicorn the scheme (X-Forwarded-Proto). The
# client's own address is read by the site from X-Forwarded-For as far as NUM_PROXIES says.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = "-"
# The client as the proxy saw it, and the time taken in milliseconds.
access_log_format = '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# gunicorn 25.1+ listens on a control socket for `gunicornc`, by default one path per user
# that every instance run by that user would share; systemd gives each service its own.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
