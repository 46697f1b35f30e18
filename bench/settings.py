"""Settings for the benchmark only: the project's settings plus the reference view's URL and
template, so production URLs do not carry it. ``bench/run.py`` starts gunicorn with these."""

import os

from marketplace.settings import *  # noqa: F403
from marketplace.settings import BASE_DIR, CATALOG_CACHE_SECONDS, TEMPLATES

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
# Its own collected static files (DEBUG off serves them through a manifest), apart from `make run`'s.
STATIC_ROOT = BASE_DIR / "var" / "bench" / "static"
# bench/run.py also measures the pages with the catalog cache off (catalog.cache): "0".
CATALOG_CACHE_SECONDS = int(os.environ.get("BENCH_CATALOG_CACHE_SECONDS", CATALOG_CACHE_SECONDS))
