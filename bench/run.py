"""``make bench``: the storefront's throughput and latency against a reference view.

1. ``bench/load.py`` fills the PostgreSQL database ``bench_marketplace`` (5,000 active products;
   kept between runs, ``--reset`` rebuilds it).
2. gunicorn serves ``bench.settings`` (the project's settings plus ``/bench/reference/``) on
   127.0.0.1 with 2 sync workers, production mode (``PRODUCTION=1``, DEBUG off), no Redis: the
   cache is each worker's local memory, as in the embedded default.
3. A load tool on 127.0.0.1 (wrk, else a small Python generator), 2 connections (one per worker,
   so latencies are the pages' own, not time queued behind another request), measures in turn,
   each for ``--warmup`` + ``--duration`` seconds: the reference view (24 rows, one query, a small
   template), the listing ``/de/products/`` and a product page in German with the JPY currency
   cookie, a search (the target) and a broader search (for scale).
4. The table, the ratios to the reference and the targets are printed and appended to
   ``bench/RESULTS.md`` with the machine's description and its load average.

Bounded in time: the first load about a minute, then about 15 s per target.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
PYTHON = sys.executable
RESULTS = BASE_DIR / "bench" / "RESULTS.md"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_marketplace")
HEADERS = {"Cookie": "currency=JPY", "Accept-Language": "de"}
TARGETS = {"listing": 0.25, "product": 0.30}  # share of the reference view's requests/s
SEARCH_P95_MS = 50.0
SHORT_NAMES = {"listing": "listing", "product": "product", "search": "search", "broad": "search (broad)"}
UNCACHED = ", catalog cache off"  # suffix of the pages measured with CATALOG_CACHE_SECONDS = 0

# Prints the request count, duration and errors, then wrk's whole latency histogram (microseconds,
# count), so the slices of one target can be merged before taking percentiles.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH %d %d %d\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status))
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format('LAT %d %d\\n', value, count))
  end
end
"""


@dataclass
class Sample:
    """Requests measured against one URL, possibly over several slices of time."""

    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies: Counter[int] = field(default_factory=Counter)  # microseconds -> requests

    def add(self, other: Sample) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.errors += other.errors
        self.latencies.update(other.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """In milliseconds."""
        total, seen = sum(self.latencies.values()), 0
        for value in sorted(self.latencies):
            seen += self.latencies[value]
            if seen >= total * p / 100:
                return value / 1000
        return 0.0


@dataclass(frozen=True)
class Result:
    name: str
    path: str
    sample: Sample
    ratio: float | None  # requests/s against the reference's in the slices beside it
    load: float  # 1-minute load average at the end: other work on the machine shows here


def bench_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_CACHE_URL", "DEBUG")}
    env.update(DATABASE_URL=DATABASE_URL, DJANGO_SETTINGS_MODULE="bench.settings", PYTHONPATH=str(BASE_DIR))
    env.update(extra)
    return env


PRODUCTION_ENV = {
    "PRODUCTION": "1",
    "SECRET_KEY": "bench-only-4f0c2b9e7d1a8c3e5b6f",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
}


def run(cmd: list[str], *, env: dict[str, str], timeout: float) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, env=env, cwd=BASE_DIR, check=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; see var/bench/gunicorn.log")
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} within {timeout} s")


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        try:
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, timeout=120, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"could not install wrk ({exc}); using the Python load generator", flush=True)
    return shutil.which("wrk")


def measure_wrk(wrk: str, url: str, *, connections: int, duration: float) -> Sample:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        cmd = [wrk, f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "5s"]
        for key, value in HEADERS.items():
            cmd += ["-H", f"{key}: {value}"]
        out = subprocess.run(
            [*cmd, "-s", script.name, url], capture_output=True, text=True, timeout=duration + 30, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    sample = Sample()
    for line in out.splitlines():
        kind, *numbers = line.split()
        if kind == "BENCH":
            sample.requests, duration_us, sample.errors = map(int, numbers)
            sample.seconds = duration_us / 1e6
        elif kind == "LAT":
            value, count = map(int, numbers)
            sample.latencies[value] += count
    return sample


def measure_python(url: str, *, connections: int, duration: float) -> Sample:
    """Threads with keep-alive connections; the fallback when wrk cannot be had."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    sample = Sample()
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        mine, errors = Counter[int](), 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", "/" + path, headers=HEADERS)
                response = conn.getresponse()
                response.read()
                errors += response.status != 200
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
                continue
            mine[round((time.perf_counter() - started) * 1e6)] += 1
        with lock:
            sample.latencies.update(mine)
            sample.errors += errors

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sample.seconds = time.monotonic() - started
    sample.requests = sum(sample.latencies.values())
    return sample


def choose_pages(queries: list[str]) -> tuple[str, int, dict[str, int]]:
    """A bench product with four variants (an explicit price among them if any), the number of
    active products, and how many each search matches, read in this process from the bench database."""
    os.environ.update(bench_env(**PRODUCTION_ENV))
    import django

    django.setup()
    from django.db.models import Count

    from catalog.models import Product
    from catalog.search import search_products
    from catalog.selectors import visible_products

    products = Product.objects.filter(status=Product.Status.ACTIVE).annotate(
        n=Count("variants", distinct=True), explicit=Count("variants__prices")
    )
    product = products.filter(n=4).order_by("-explicit", "pk").first() or products.order_by("pk").first()
    if product is None:
        sys.exit("The bench database has no active product.")
    matches = {q: search_products(visible_products(), q, "de").count() for q in queries}
    return product.slug, visible_products().count(), matches


def profile(paths: dict[str, str], repeat: int = 10) -> dict[str, tuple[int, float, float]]:
    """Per page, in this process: queries, milliseconds in SQL, and the Python CPU time (median of
    ``repeat`` requests after a warm-up). CPU time is what other work on the machine disturbs least.
    The listing and the product page also with the catalog cache off."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client(headers=HEADERS, SERVER_NAME="127.0.0.1")
    client.cookies["currency"] = "JPY"
    print(f"\nIn process (median of {repeat} requests after a warm-up):")
    costs = {}
    cold = {f"{name}{UNCACHED}": path for name, path in paths.items() if name in ("listing", "product")}
    for name, path in {**paths, **cold}.items():
        seconds = 0 if name.endswith(UNCACHED) else settings.CATALOG_CACHE_SECONDS
        with override_settings(CATALOG_CACHE_SECONDS=seconds):
            client.get(path)
            with CaptureQueriesContext(connection) as queries:
                client.get(path)
            count, sql = len(queries), sum(float(q["time"]) for q in queries.captured_queries) * 1000
            cpu = []
            for _ in range(repeat):
                started = time.process_time()
                client.get(path)
                cpu.append((time.process_time() - started) * 1000)
        costs[name] = (count, sql, median(cpu))
        print(f"  {name:<14} {count:>2} queries  {sql:6.1f} ms SQL  {median(cpu):6.1f} ms Python CPU")
    return costs


def sanity_check(base: str, paths: dict[str, str]) -> None:
    for name, path in paths.items():
        status, body = get(base + path)
        if status != 200:
            sys.exit(f"{name}: {path} answered {status}")
        if name == "listing" and body.count('data-testid="product-card"') != 24:
            sys.exit(f"{name}: expected 24 product cards")
        if name.startswith("search") and 'data-testid="product-card"' not in body:
            sys.exit(f"{name}: the query found nothing; pick another with --query")
        if name in ("listing", "product") and 'data-currency="JPY"' not in body:
            sys.exit(f"{name}: prices are not in JPY")


def versions() -> dict[str, str]:
    import django
    import gunicorn
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "postgres": postgres,
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
    }


def report(
    results: list[Result],
    args: argparse.Namespace,
    tool: str,
    machine: dict[str, str],
    count: int,
    matches: dict[str, int],
    costs: dict[str, tuple[int, float, float]],
) -> str:
    by_name = {r.name: r for r in results}
    lines = [
        f"## Storefront pages against the reference view ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}, "
        f"PostgreSQL {machine['postgres']}, Django {machine['django']}, gunicorn {machine['gunicorn']} "
        f"(2 sync workers, PRODUCTION=1, DEBUG off, no Redis: local-memory cache per worker; the catalog "
        f"cache (catalog.cache: catalog rows, never prices in the buyer's currency, stock or anything per "
        f"buyer) on, except on the pages marked “catalog cache off”, served by a second gunicorn). "
        f"{count:,} active products. Load: {tool} on 127.0.0.1, {args.connections} connections, each page "
        f"{args.duration:g} s in {args.rounds} slices, each slice right after one of the reference view, so "
        f"both see the same machine (server, database and load tool share the CPUs; `load` is the 1-minute "
        f"load average after each page: above ~2.5 other work was running). Currency cookie JPY, "
        f"`Accept-Language: de`. Search matches: "
        + ", ".join(f"“{q}” {n:,} products" for q, n in matches.items())
        + " (the broad one is shown for scale, not a target).",
        "",
        "| page | path | req/s | p50 ms | p95 ms | p99 ms | errors | load | vs reference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = "100%" if r.ratio is None else f"{r.ratio:.0%}"
        sample = r.sample
        lines.append(
            f"| {r.name} | `{r.path}` | {sample.rps:.1f} | {sample.percentile(50):.1f} | "
            f"{sample.percentile(95):.1f} | {sample.percentile(99):.1f} | {sample.errors} | {r.load:.1f} | {ratio} |"
        )
    checks, ratios = [], []
    for suffix in ("", UNCACHED):
        for name, share in TARGETS.items():
            if (page := by_name.get(name + suffix)) is not None and page.ratio is not None:
                ratios.append(f"{name}{suffix}/reference {page.ratio:.2f}")
                checks.append((f"{name}{suffix} ≥ {share:.0%} of reference", page.ratio >= share))
    if (search := by_name.get("search")) is not None:
        checks.append((f"search p95 < {SEARCH_P95_MS:g} ms", search.sample.percentile(95) < SEARCH_P95_MS))
    lines += [
        "",
        f"Ratios: {', '.join(ratios)}.",
        "",
        "Targets: " + "; ".join(f"{label}: {'met' if ok else 'MISSED'}" for label, ok in checks),
        "",
        "In process, per request (median of 10 after a warm-up; Python CPU time excludes PostgreSQL's):",
        "",
        "| page | queries | SQL ms | Python CPU ms |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {n} | {sql:.1f} | {cpu:.1f} |" for name, (n, sql, cpu) in costs.items()],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per page")
    parser.add_argument("--rounds", type=int, default=5, help="slices per page, each after one of the reference")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per page, not measured")
    parser.add_argument(
        "--connections", type=int, default=2, help="one per gunicorn worker: latency without queueing at the server"
    )
    parser.add_argument("--query", default="Kopfhörer Studio", help="the search measured against the target")
    parser.add_argument("--broad-query", default="Kopfhörer", help="a broader search, shown for scale")
    parser.add_argument("--reset", action="store_true", help="rebuild the bench database")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument(
        "--no-uncached", action="store_true", help="skip the listing and product page with the catalog cache off"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated pages to measure besides the reference (listing, product, search, broad); "
        "for quick comparisons: skips the logistics benchmarks and records nothing",
    )
    args = parser.parse_args()
    only = {SHORT_NAMES.get(name.strip(), name.strip()) for name in args.only.split(",") if name.strip()}
    if unknown := only - set(SHORT_NAMES.values()):
        parser.error(f"--only: unknown page(s) {', '.join(sorted(unknown))}")
    if only:
        args.no_record = True

    load = [PYTHON, "bench/load.py", *(["--reset"] if args.reset else [])]
    run(load, env=bench_env(), timeout=300)
    static = [PYTHON, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"]
    run(static, env=bench_env(**PRODUCTION_ENV), timeout=120)

    slug, count, matches = choose_pages([args.query, args.broad_query])
    paths = {
        "reference": "/bench/reference/",
        "listing": "/de/products/",
        "product": f"/de/products/{slug}/",
        "search": f"/de/products/?q={quote(args.query)}",
        "search (broad)": f"/de/products/?q={quote(args.broad_query)}",
    }
    if only:
        paths = {name: path for name, path in paths.items() if name == "reference" or name in only}
    costs = profile(paths)

    results, tool = serve_and_measure(paths, PRODUCTION_ENV, args)
    if not args.no_uncached:
        # The same pages with the catalog cache off (catalog.cache): every request reads the catalog.
        cold = {
            f"{name}{UNCACHED}" if name != "reference" else name: path
            for name, path in paths.items()
            if name in ("reference", "listing", "product")
        }
        if len(cold) > 1:
            more, _tool = serve_and_measure(cold, {**PRODUCTION_ENV, "BENCH_CATALOG_CACHE_SECONDS": "0"}, args)
            reference = results[0]
            reference.sample.add(more[0].sample)
            results += more[1:]

    text = report(results, args, tool, versions(), count, matches, costs)
    print("\n" + text)
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\nAppended by `make bench` (bench/run.py). Newest last.\n\n")
        with RESULTS.open("a") as f:
            f.write(text + "\n")
        print(f"appended to {RESULTS.relative_to(BASE_DIR)}")


def serve_and_measure(
    paths: dict[str, str], server_env: dict[str, str], args: argparse.Namespace
) -> tuple[list[Result], str]:
    """Starts gunicorn with ``server_env``, measures each page of ``paths`` in slices right after
    slices of the reference, stops it. The first result is the reference's, over all its slices."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_dir = BASE_DIR / "var" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    gunicorn = [
        str(Path(PYTHON).parent / "gunicorn"),
        "marketplace.wsgi:application",
        "--workers=2",
        "--worker-class=sync",
        f"--bind=127.0.0.1:{port}",
        f"--chdir={BASE_DIR}",
        f"--error-logfile={log_dir / 'gunicorn.log'}",
    ]
    extra = " ".join(f"{k}={v}" for k, v in server_env.items() if k not in PRODUCTION_ENV)
    print("$", extra, " ".join(gunicorn), flush=True)
    server = subprocess.Popen(gunicorn, env=bench_env(**server_env), cwd=BASE_DIR)
    results: list[Result] = []
    try:
        wait_ready(base + paths["reference"], server)
        sanity_check(base, paths)
        wrk = ensure_wrk()
        tool = (
            f"wrk ({subprocess.run([wrk, '-v'], capture_output=True, text=True).stdout.split()[1]})"
            if wrk
            else ("Python threads + http.client")
        )
        slice_seconds = args.duration / args.rounds
        print(
            f"\nMeasuring with {tool}: {args.connections} connections; each page for {args.duration:g} s in "
            f"{args.rounds} slices, each slice right after one of the reference view"
        )

        def measure(path: str, seconds: float) -> Sample:
            url = base + path
            if wrk:
                return measure_wrk(wrk, url, connections=args.connections, duration=seconds)
            return measure_python(url, connections=args.connections, duration=seconds)

        for path in paths.values():
            measure(path, args.warmup)
        reference_total = Sample()
        for name, path in paths.items():
            if name == "reference":
                continue
            page, beside = Sample(), Sample()
            for _ in range(args.rounds):
                beside.add(measure(paths["reference"], slice_seconds))
                page.add(measure(path, slice_seconds))
            reference_total.add(beside)
            load = os.getloadavg()[0]
            results.append(Result(name, path, page, page.rps / beside.rps, load))
            print(
                f"  {name:<14} {page.rps:8.1f} req/s ({page.rps / beside.rps:4.0%} of the reference's "
                f"{beside.rps:.0f})  p50 {page.percentile(50):6.1f} ms  p95 {page.percentile(95):6.1f} ms  "
                f"p99 {page.percentile(99):6.1f} ms  load {load:.1f}"
            )
        results.insert(0, Result("reference", paths["reference"], reference_total, None, os.getloadavg()[0]))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return results, tool


def logistics_benches(*, record: bool) -> None:
    """The logistics benchmarks (issue 4) and the checkout's (issue 5), each in its own throw-away
    PostgreSQL database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_CACHE_URL")}
    env.update(DATABASE_URL=DATABASE_URL, PYTHONPATH=str(BASE_DIR))
    for title, cmd in [
        ("allocation + shipping + landed cost, 20-line cart", [PYTHON, "bench/logistics_bench.py"]),
        ("poll_tracking over 10,000 shipments", [PYTHON, "bench/tracking_bench.py"]),
        ("checkout: add to cart, quote, placing orders", [PYTHON, "bench/checkout_bench.py"]),
    ]:
        print(f"\n== {title}", flush=True)
        flag = {
            "bench/logistics_bench.py": "--no-append",
            "bench/tracking_bench.py": "--no-write",
            "bench/checkout_bench.py": "--no-append",
        }[cmd[1]]
        subprocess.run([*cmd, *([] if record else [flag])], env=env, cwd=BASE_DIR, check=False, timeout=900)


if __name__ == "__main__":
    main()
    if "--only" not in " ".join(sys.argv):
        logistics_benches(record="--no-record" not in sys.argv)
