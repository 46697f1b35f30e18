"""Checkout under load: add-to-cart requests/s, quote latency for a 10-line cart, and placed orders/s
with 8 concurrent clients, with zero oversell.

    .venv/bin/python bench/checkout_bench.py            # about 1.5 minutes; appends to bench/RESULTS.md

1. A throw-away PostgreSQL database (``bench_checkout``, rebuilt each run) gets the demo data of
   ``make run`` (``seed_demo``: 5 sellers, 66 products, warehouses, markets, rates); every stock row
   gets plenty of units except one "hot" variant, which has ``HOT_UNITS`` units in all.
2. Quote latency, in this process: ``orders.services.start_checkout`` for a 10-line cart from three
   sellers in three currencies to Germany, quoted in EUR (allocation, shipping, duties, VAT, FX).
3. gunicorn serves the app (2 sync workers, ``PRODUCTION=1``, DEBUG off) on 127.0.0.1.
4. Add to cart: wrk (or Python threads) POSTs ``/en/cart/add/`` with CSRF, rotating over 500
   visitors' sessions and the catalogue's variants; every answer must be the redirect to the cart.
5. Placing orders: 8 client threads, each posting "place order" (with the card) for 40 buyers who
   already have a quoted checkout of two lines, one of them the hot variant (300 units for 320
   checkouts, so the last units are fought over). Placed orders are counted in the database;
   afterwards the hot variant's stock must show exactly the units of the orders that got it.
6. For scale, whole journeys: 8 signed-in clients loop "add two products -> checkout with an
   address -> open the quote -> place" for the same time.
Targets (issue 5): add-to-cart >= 200 req/s, quote median < 50 ms, >= 20 orders/s, zero oversell.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.run import (  # noqa: E402  (after the path is set)
    PRODUCTION_ENV,
    PYTHON,
    RESULTS,
    Sample,
    bench_env,
    ensure_wrk,
    free_port,
)

DATABASE_URL = os.environ.get("BENCH_CHECKOUT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_checkout")
HOT_UNITS = 300  # fewer than the prepared checkouts: the last units are fought over
PLACERS_PER_CLIENT = 40
VISITORS = 500
CLIENTS = 8
CSRF = secrets.token_hex(16)  # 32 characters: Django accepts the unmasked secret as the form token
ADDRESS = {
    "email": "bench@example.com",
    "name": "Erika Mustermann",
    "line1": "Hauptstrasse 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "+49 30 1234567",
    "payment_method": "card",
}
TARGETS = {"add_rps": 200.0, "quote_ms": 50.0, "orders_per_s": 20.0}

ADD_SCRIPT = """
local sessions = {%(sessions)s}
local variants = {%(variants)s}
local counter = 0
request = function()
  counter = counter + 1
  local s = sessions[(counter %% #sessions) + 1]
  local v = variants[(math.floor(counter / #sessions) %% #variants) + 1]
  local body = "csrfmiddlewaretoken=%(csrf)s&quantity=1&variant=" .. v
  return wrk.format("POST", "/en/cart/add/", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=%(csrf)s; sessionid=" .. s,
  }, body)
end
response = function(status, headers, body)
  if status ~= 302 then
    bad = (bad or 0) + 1
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH %%d %%d %%d\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status))
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format('LAT %%d %%d\\n', value, count))
  end
end
"""


def env() -> dict[str, str]:
    return {**bench_env(**PRODUCTION_ENV), "DATABASE_URL": DATABASE_URL}


def rebuild_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    for cmd in (
        ["manage.py", "migrate", "--no-input", "--verbosity", "0"],
        ["manage.py", "seed_demo", "--force", "--verbosity", "0"],
        ["manage.py", "refresh_fx_rates"],
        ["manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
    ):
        subprocess.run(
            [PYTHON, *cmd],
            env={**env(), "DJANGO_SETTINGS_MODULE": "bench.settings"},
            cwd=BASE_DIR,
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )


def setup_django() -> None:
    os.environ.update(env())
    import django

    django.setup()


def prepare() -> dict[str, Any]:
    """Plenty of stock everywhere but the hot variant; 500 visitors with a cart; 8 signed-in buyers."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from catalog.models import Product, Variant
    from logistics.allocation import Line, allocate
    from logistics.models import Stock
    from marketplace.models import User
    from orders.models import Cart
    from orders.selectors import CART_SESSION_KEY

    Stock.objects.update(on_hand=1_000_000, allocated=0)
    candidates = (
        Variant.objects.filter(product__status=Product.Status.ACTIVE, active=True, stock__isnull=False)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # what ships to Germany (a few demo products have no route there, e.g. by battery rules)
    sellable = [pk for pk in candidates if allocate([Line(variant_id=pk, quantity=1)], "DE").shippable]
    hot = sellable[0]
    hot_rows = list(Stock.objects.filter(variant_id=hot).order_by("pk"))
    Stock.objects.filter(variant_id=hot).update(on_hand=0)
    Stock.objects.filter(pk=hot_rows[0].pk).update(on_hand=HOT_UNITS)

    visitors = []
    for _ in range(VISITORS):
        cart = Cart.objects.create()
        session = SessionStore()
        session[CART_SESSION_KEY] = str(cart.token)
        session.create()
        visitors.append(session.session_key)

    def signed_in(email: str) -> str:
        user = User.objects.create_user(email, "bench-pass-123")
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return session.session_key

    # full journeys: one buyer per client, who fills a cart, checks out and places, again and again
    buyers = [signed_in(f"bench-buyer-{i}@example.com") for i in range(CLIENTS)]
    return {"variants": sellable, "hot": hot, "visitors": visitors, "buyers": buyers}


def prepare_checkouts(state: dict[str, Any], per_client: int) -> list[list[tuple[str, str]]]:
    """For the placing bench: per client, ``per_client`` buyers each with a quoted checkout of two
    lines (the hot variant and another product), as a buyer has after the checkout page."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from marketplace.models import User
    from orders.models import Cart, CartLine
    from orders.services import Address, start_checkout

    address = Address(**{k: v for k, v in ADDRESS.items() if k in Address.__dataclass_fields__})
    others = state["variants"][1:]
    queues: list[list[tuple[str, str]]] = []
    for client in range(CLIENTS):
        queue = []
        for n in range(per_client):
            user = User.objects.create_user(f"bench-placer-{client}-{n}@example.com", "bench-pass-123")
            cart = Cart.objects.create(user=user)
            CartLine.objects.create(cart=cart, variant_id=state["hot"], quantity=1)
            CartLine.objects.create(cart=cart, variant_id=others[(client * per_client + n) % len(others)], quantity=1)
            checkout = start_checkout(cart, buyer=user, address=address, currency="EUR", language="en")
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            queue.append((session.session_key, str(checkout.token)))
        queues.append(queue)
    return queues


def place_prepared(port: int, queues: list[list[tuple[str, str]]]) -> dict[str, Any]:
    """8 clients POST "place order" (token + card) for their prepared checkouts, all at once."""
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def client(queue: list[tuple[str, str]]) -> None:
        mine: Counter[str] = Counter()
        times: list[float] = []
        for session, token in queue:
            browser = Client(port, session)
            started = time.perf_counter()
            try:
                status, location, _ = browser.request(
                    "POST", "/en/checkout/place/", {"token": token, "payment_method": "card"}
                )
            except (OSError, http.client.HTTPException):
                mine["connection error"] += 1
                continue
            times.append((time.perf_counter() - started) * 1000)
            mine["placed" if status == 302 and "/checkout/" not in location else "refused (sold out)"] += 1
        with lock:
            outcomes.update(mine)
            latencies.extend(times)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"outcomes": outcomes, "seconds": time.monotonic() - started, "latencies": sorted(latencies)}


def quote_latency(variants: list[int], calls: int) -> dict[str, float]:
    """``start_checkout`` for a 10-line cart from several sellers, to Germany in EUR."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Variant
    from marketplace.models import User
    from orders.models import Cart, CartLine
    from orders.services import Address, start_checkout

    by_seller: dict[int, list[int]] = {}
    for pk, seller in Variant.objects.filter(pk__in=variants[1:]).values_list("pk", "product__seller_id"):
        by_seller.setdefault(seller, []).append(pk)
    lines: list[int] = []
    while len(lines) < 10:  # round-robin over the sellers: a cart mixing every seller's currency
        for pks in by_seller.values():
            if pks and len(lines) < 10:
                lines.append(pks.pop())
    buyer = User.objects.create_user("quote-buyer@example.com", "bench-pass-123")
    cart = Cart.objects.create(user=buyer)
    for pk in lines:
        CartLine.objects.create(cart=cart, variant_id=pk, quantity=2)
    address = Address(**{k: v for k, v in ADDRESS.items() if k in Address.__dataclass_fields__})
    start_checkout(cart, buyer=buyer, address=address, currency="EUR", language="en")  # warm caches
    with CaptureQueriesContext(connection) as queries:
        start_checkout(cart, buyer=buyer, address=address, currency="EUR", language="en")
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        checkout = start_checkout(cart, buyer=buyer, address=address, currency="EUR", language="en")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "lines": len(lines),
        "sellers": len({s for s, pks in by_seller.items()}),
        "queries": len(queries),
        "median": statistics.median(times),
        "p95": times[int(len(times) * 0.95) - 1],
        "total": f"{checkout.quote['total']} {checkout.currency}",
    }


def add_to_cart_wrk(wrk: str, base: str, state: dict[str, Any], duration: float) -> Sample:
    import tempfile

    script = ADD_SCRIPT % {
        "sessions": ",".join(f'"{s}"' for s in state["visitors"]),
        "variants": ",".join(str(v) for v in state["variants"][1:]),
        "csrf": CSRF,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [wrk, "-t2", "-c4", f"-d{duration:g}s", "--timeout", "5s", "-s", f.name, base + "/en/cart/add/"],
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    sample = Sample()
    for line in out.splitlines():
        kind, *numbers = line.split() or [""]
        if kind == "BENCH":
            sample.requests, duration_us, sample.errors = map(int, numbers)
            sample.seconds = duration_us / 1e6
        elif kind == "LAT":
            value, count = map(int, numbers)
            sample.latencies[value] += count
    return sample


class Client:
    """One browser: a keep-alive connection, a session cookie and the CSRF cookie."""

    def __init__(self, port: int, session: str) -> None:
        self.port = port
        self.cookie = f"csrftoken={CSRF}; sessionid={session}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": self.cookie, "Accept-Language": "en"}
        body = None
        if data is not None:
            body = urlencode({**data, "csrfmiddlewaretoken": CSRF})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise
        return response.status, response.getheader("Location") or "", text


def place_orders(port: int, state: dict[str, Any], duration: float) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    others = state["variants"][1:]

    def buyer(index: int, session: str) -> None:
        client = Client(port, session)
        mine: Counter[str] = Counter()
        times: list[float] = []
        n = 0
        while time.monotonic() < deadline:
            n += 1
            started = time.perf_counter()
            try:
                first = others[(index * 7919 + n) % len(others)]
                second = others[(index * 7919 + n + 1) % len(others)]
                client.request("POST", "/en/cart/add/", {"variant": first, "quantity": 1})
                client.request("POST", "/en/cart/add/", {"variant": second, "quantity": 1})
                status, location, _ = client.request("POST", "/en/checkout/", ADDRESS)
                if status != 302:
                    mine["checkout refused"] += 1
                    continue
                status, _, page = client.request("GET", "/en/checkout/")
                token = re.search(r'name="token" value="([0-9a-f-]{36})"', page)
                if token is None:
                    mine["no quote"] += 1
                    continue
                status, location, _ = client.request(
                    "POST", "/en/checkout/place/", {"token": token.group(1), "payment_method": "card"}
                )
                if status == 302 and "/checkout/" not in location:
                    mine["placed"] += 1
                    times.append((time.perf_counter() - started) * 1000)
                else:
                    mine["refused"] += 1
            except (OSError, http.client.HTTPException):
                mine["connection error"] += 1
        with lock:
            outcomes.update(mine)
            latencies.extend(times)

    started = time.monotonic()
    threads = [threading.Thread(target=buyer, args=(i, s)) for i, s in enumerate(state["buyers"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"outcomes": outcomes, "seconds": time.monotonic() - started, "latencies": sorted(latencies)}


def oversell_check(hot: int) -> dict[str, int]:
    from django.db.models import Sum

    from logistics.models import Stock
    from orders.models import Order, OrderLine, StockReservation

    stock = Stock.objects.filter(variant_id=hot).aggregate(on_hand=Sum("on_hand"), allocated=Sum("allocated"))
    # the demo's past orders may hold the hot variant too: count the bench's buyers only
    mine = {"order_line__order__buyer__email__startswith": "bench-placer-"}
    reserved = StockReservation.objects.filter(stock__variant_id=hot, released_at=None, **mine).aggregate(
        n=Sum("quantity")
    )
    sold = OrderLine.objects.filter(variant_id=hot, order__buyer__email__startswith="bench-placer-").aggregate(
        n=Sum("quantity")
    )
    return {
        "on_hand": stock["on_hand"] or 0,
        "allocated": stock["allocated"] or 0,
        "reserved": reserved["n"] or 0,
        "sold": sold["n"] or 0,
        "orders": Order.objects.filter(buyer__email__startswith="bench-placer-").count(),
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15, help="seconds of add-to-cart and of placing orders")
    parser.add_argument("--quotes", type=int, default=100, help="quote calls measured")
    parser.add_argument("--no-append", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()

    print("building the bench_checkout database (demo data)...", flush=True)
    rebuild_database()
    setup_django()
    state = prepare()
    quote = quote_latency(state["variants"], args.quotes)
    print(f"quote: {quote}", flush=True)
    queues = prepare_checkouts(state, PLACERS_PER_CLIENT)

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
        f"--error-logfile={log_dir / 'gunicorn-checkout.log'}",
    ]
    server = subprocess.Popen(gunicorn, env={**env(), "DJANGO_SETTINGS_MODULE": "bench.settings"}, cwd=BASE_DIR)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = Client(port, "none").request("GET", "/healthz")[0]
                if status in (200, 503):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("gunicorn did not start; see var/bench/gunicorn-checkout.log")
            time.sleep(0.3)
        # sanity: one add answers the redirect to the cart
        status, location, _ = Client(port, state["visitors"][0]).request(
            "POST", "/en/cart/add/", {"variant": state["variants"][1], "quantity": 1}
        )
        if status != 302 or not location.endswith("/en/cart/"):
            sys.exit(f"add to cart answered {status} {location}")
        wrk = ensure_wrk()
        if wrk is None:
            sys.exit("wrk is needed for the add-to-cart bench (apt-get install wrk)")
        add_to_cart_wrk(wrk, base, state, 2)  # warm-up
        add = add_to_cart_wrk(wrk, base, state, args.duration)
        print(f"add to cart: {add.rps:.1f} req/s, p50 {add.percentile(50):.1f} ms, errors {add.errors}", flush=True)
        placing = place_prepared(port, queues)
        print(f"placing: {placing['outcomes']} in {placing['seconds']:.1f} s", flush=True)
        journeys = place_orders(port, state, args.duration)
        print(f"full journeys: {journeys['outcomes']}", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    check = oversell_check(state["hot"])
    placed = check["orders"]
    orders_per_s = placed / placing["seconds"]
    oversold = (
        check["sold"] > HOT_UNITS or check["allocated"] > check["on_hand"] or check["reserved"] != check["allocated"]
    )
    lat = placing["latencies"]
    p50, p95 = (statistics.median(lat), lat[int(len(lat) * 0.95) - 1]) if lat else (0.0, 0.0)
    journey_orders = journeys["outcomes"]["placed"]
    jlat = journeys["latencies"]
    load = os.getloadavg()[0]

    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    text = "\n".join(
        [
            f"## Checkout: add to cart, quote, placing orders ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            f"PostgreSQL, demo catalogue, gunicorn 2 sync workers (PRODUCTION=1), 127.0.0.1; load {load:.1f} "
            f"at the end; {os.cpu_count()} CPUs.",
            "",
            "| measure | result | target |",
            "| --- | --- | --- |",
            f"| add to cart (wrk, 4 connections, {VISITORS} visitors' carts) | {add.rps:.0f} req/s, p50 "
            f"{add.percentile(50):.1f} ms, p95 {add.percentile(95):.1f} ms, {add.errors} errors | >= 200 req/s: "
            f"{verdict(add.rps >= TARGETS['add_rps'] and add.errors == 0)} |",
            f"| quote, {quote['lines']}-line cart from {quote['sellers']} sellers to DE in EUR "
            f"({quote['queries']} queries) | median {quote['median']:.1f} ms, p95 {quote['p95']:.1f} ms | < 50 ms: "
            f"{verdict(quote['median'] < TARGETS['quote_ms'])} |",
            f"| placing orders: {CLIENTS} clients post {CLIENTS * PLACERS_PER_CLIENT} quoted checkouts (place + start "
            f"the card payment) | {placed} orders in {placing['seconds']:.1f} s = {orders_per_s:.1f} orders/s; "
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms "
            f"| >= 20/s: {verdict(orders_per_s >= TARGETS['orders_per_s'])} |",
            f"| whole journeys: {CLIENTS} clients add 2 products, check out, open the quote, place | "
            f"{journey_orders} orders in {journeys['seconds']:.1f} s = {journey_orders / journeys['seconds']:.1f} "
            f"orders/s; p50 {(statistics.median(jlat) if jlat else 0):.0f} ms per journey | (for scale) |",
            f"| hot variant ({HOT_UNITS} units) | sold {check['sold']}, allocated {check['allocated']} of "
            f"{check['on_hand']}, reserved {check['reserved']}; outcomes {dict(placing['outcomes'])} | zero oversell: "
            f"{verdict(not oversold)} |",
            "",
        ]
    )
    print("\n" + text)
    if not args.no_append:
        with RESULTS.open("a") as f:
            f.write("\n" + text)
    return {"add_rps": add.rps, "quote_ms": quote["median"], "orders_per_s": orders_per_s, "oversold": oversold}


if __name__ == "__main__":
    main()
