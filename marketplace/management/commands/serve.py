from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from marketplace.celery import Queue
from marketplace.demo import DEMO_PASSWORD, USERS
from marketplace.models import User


class Command(BaseCommand):
    help = "Run the web server with a Celery worker and beat beside it (what `make run` starts)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args: Any, host: str, port: str, **options: Any) -> None:
        logs = Path(settings.BASE_DIR) / "var" / "log"
        logs.mkdir(parents=True, exist_ok=True)
        celery = [sys.executable, "-m", "celery", "-A", "marketplace"]
        queues = ",".join(q.value for q in Queue)
        children = [
            subprocess.Popen(
                [*celery, "worker", "-Q", queues, "--pool", "solo", "--loglevel", "INFO"],
                stdout=(logs / "worker.log").open("ab"),
                stderr=subprocess.STDOUT,
            ),
            subprocess.Popen(
                [*celery, "beat", "--loglevel", "INFO", "--pidfile", ""],
                stdout=(logs / "beat.log").open("ab"),
                stderr=subprocess.STDOUT,
            ),
        ]
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nMarketplace on {url}  (admin: {url}admin/)"))
        self.stdout.write(f"Celery worker and beat running; logs in {logs}")
        self.stdout.write("Demo logins (password " + DEMO_PASSWORD + "):")
        for email, *_rest in USERS:
            self.stdout.write(f"  {email}")
        for email in User.objects.filter(email__startswith="seller-").values_list("email", flat=True):
            self.stdout.write(f"  {email}")
        self.stdout.write("")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=10)
