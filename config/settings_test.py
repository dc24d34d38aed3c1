"""Settings for the test suite: tasks run in-line, passwords hash fast."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("Q_SYNC", "1")
# A queue (and cache prefix) of this run's own: workers that tests start share the
# test process's broker, Redis or the database, and take only this run's tasks.
os.environ.setdefault("Q_NAME", f"crm-segments-test-{os.getpid()}")
# A whole run's API calls share one cache: rates no test can reach keep them from a 429.
os.environ.setdefault("API_THROTTLE_USER", "1000000/hour")
os.environ.setdefault("API_THROTTLE_ANON", "1000000/hour")

from config.settings import *  # noqa: E402,F403
from config.settings import BASE_DIR, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per run, so that runs side by side never share one; tests
# that start worker processes read the name from the connection.
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
else:
    _db["TEST"] = {"NAME": f"test_crm_segments_{os.getpid()}"}
