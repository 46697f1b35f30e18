"""Settings for the benchmark only: the project's settings plus the reference view's URL and
template, so production URLs do not carry it. ``bench/run.py`` starts gunicorn with these."""

from marketplace.settings import *  # noqa: F403
from marketplace.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
# Its own collected static files (DEBUG off serves them through a manifest), apart from `make run`'s.
STATIC_ROOT = BASE_DIR / "var" / "bench" / "static"
