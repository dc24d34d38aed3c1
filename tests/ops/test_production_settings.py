"""Production settings: the shipped example starts nothing insecure, and passes Django's review.

Each check starts a fresh Python with only the environment given, as a server would.
"""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import caches

ENV_EXAMPLE = settings.BASE_DIR / "deploy" / "env.example"


def example_env() -> dict[str, str]:
    """The VAR=value lines deploy/env.example sets (comments left out)."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {**example_env(), "SECRET_KEY": secrets.token_urlsafe(50), **overrides}


def test_the_example_ships_no_secret_key():
    assert example_env()["SECRET_KEY"] == ""


@pytest.mark.parametrize("key", ["", "change-me", "changeme", "secret", " Change-Me "])
def test_settings_refuse_a_missing_or_placeholder_secret_key(key):
    started = run(["-c", "import config.settings"], production_env(SECRET_KEY=key))
    assert started.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is" in started.stderr
    assert "secrets.token_urlsafe" in started.stderr  # says how to make one


def test_a_placeholder_is_allowed_for_local_development():
    started = run(["-c", "import config.settings"], {"SECRET_KEY": "change-me", "DEBUG": "1"})
    assert started.returncode == 0, started.stderr


def test_check_deploy_is_clean_with_the_documented_production_settings():
    checked = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "no issues" in checked.stdout


def test_the_cache_keys_are_prefixed_per_site():
    cache = caches["default"]
    assert cache.key_prefix == settings.CACHE_KEY_PREFIX != ""
    assert cache.make_key("throttle_user_1").startswith(f"{settings.CACHE_KEY_PREFIX}:")


def test_two_sites_sharing_one_redis_keep_their_counts_apart():
    show_key = [
        "-c",
        "import django; django.setup(); from django.core.cache import caches; "
        "cache = caches['default']; print(type(cache).__name__, cache.make_key('rl:ip'))",
    ]
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    site_a = run(show_key, production_env(**redis, Q_NAME="shop-eu"))
    site_b = run(show_key, production_env(**redis, Q_NAME="shop-us"))
    own = run(show_key, production_env(**redis, Q_NAME="shop-us", CACHE_KEY_PREFIX="crm-us"))
    assert site_a.stdout.split() == ["RedisCache", "shop-eu:1:rl:ip"], site_a.stderr
    assert site_b.stdout.split() == ["RedisCache", "shop-us:1:rl:ip"], site_b.stderr
    assert own.stdout.split() == ["RedisCache", "crm-us:1:rl:ip"], own.stderr
