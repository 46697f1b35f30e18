"""The storefront's catalog cache: what catalog itself writes, as the pages read it.

It holds products with their sellers and categories, active variants with their explicit prices,
images, and the cards of listings (texts in one language, the seller's prices, image URLs) under a
*catalog version*. Every save or delete of a product, variant, explicit price, image, seller or
category bumps the version (``catalog.signals``), so the next request reads the new rows: there
is nothing to expire by hand, and ``CATALOG_CACHE_SECONDS`` (``settings``) only bounds how long an
entry lives (0 turns the cache off).

It never holds what depends on the buyer or changes without catalog knowing: prices in the buyer's
currency (converted on every request from the seller's prices, with the current FX table and the
market's margin), stock, badges and delivery estimates (logistics), anything per user (cart, CSRF
token, messages). Those stay live, and so do the listing's filters, order and counts: a page query
picks the products, the cache only saves re-reading each one's texts, prices and images.

Built on it: the card texts and the category tree are also kept in each process (read-only,
under the same version), and the markup of cards and of the listing's filter form is memoised
under it (``catalog/templatetags/storefront.py``).

Limits: writes that bypass model signals (``QuerySet.update()``, ``bulk_create``) must call
``catalog_changed()`` themselves; ``Seller.median_response_minutes`` (written with ``update()`` by
the feedback threads) is not read from here. With the local-memory cache every process has its
own version: a change made in another process shows after at most ``CATALOG_CACHE_SECONDS``
(``make run`` serves from one process; production shares Redis).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:version"
DEFAULT_SECONDS = 300

T = TypeVar("T")


def cache_seconds() -> int:
    return int(getattr(settings, "CATALOG_CACHE_SECONDS", DEFAULT_SECONDS))


def catalog_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)  # add: a concurrent bump wins
        version = cache.get(VERSION_KEY) or ""
    return version


def _bump() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)


def catalog_changed() -> None:
    """Call after writing catalog rows: bumps the version now (this transaction's later reads
    see the change) and again after the commit (a request that read the old rows in between
    cached them under the version bumped now, which the second bump retires)."""
    _bump()
    transaction.on_commit(_bump)


_PLAIN = re.compile(r"[-\w:.]{1,160}", re.ASCII)


def key(*parts: object, version: str | None = None) -> str:
    """``catalog:<version>:<parts>``; parts that are not plain (a search's words, a tuple), as their
    digest: the key stays short and valid for every cache backend."""
    text = ":".join(map(str, parts))
    if not _PLAIN.fullmatch(text):
        text = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"catalog:{version or catalog_version()}:{text}"


def cached(parts: tuple[object, ...], build: Callable[[], T]) -> T:
    """``build()``, kept under the current version; ``build`` may raise (e.g. ``Http404``): nothing
    is cached then."""
    seconds = cache_seconds()
    if seconds <= 0:
        return build()
    name = key(*parts)
    value = cache.get(name)
    if value is None:
        value = build()
        cache.set(name, value, seconds)
    return value


# key -> (value, until when, time.monotonic()): what ``cached_many`` read lately, in this process
_in_process: dict[str, tuple[Any, float]] = {}
IN_PROCESS_ENTRIES = 20_000  # cards: about 1 kB each


def cached_many(
    prefix: tuple[object, ...], ids: Iterable[int], build: Callable[[list[int]], dict[int, T]]
) -> dict[int, T]:
    """Per id, ``build(missing ids)``'s value, kept under the current version: one cache read for
    all ids, and one ``build`` for those it lacks (an id ``build`` leaves out is not cached).

    The values are also kept in this process (unpickling a page of them from the cache costs about
    0.5 ms), so they are shared, read-only, by its requests: plain data only, never mutated."""
    ids = list(ids)
    seconds = cache_seconds()
    if seconds <= 0:
        return build(ids)
    version = catalog_version()
    names = {pk: key(*prefix, pk, version=version) for pk in ids}
    now = time.monotonic()
    values: dict[int, T] = {}
    for pk, name in names.items():
        value, until = _in_process.get(name, (None, 0.0))
        if value is not None and until >= now:
            values[pk] = value
    if len(values) < len(names):
        found = cache.get_many([name for pk, name in names.items() if pk not in values])
        values.update({pk: found[name] for pk, name in names.items() if name in found})
        missing = [pk for pk in ids if pk not in values]
        if missing:
            built = build(missing)
            cache.set_many({names[pk]: value for pk, value in built.items()}, seconds)
            values.update(built)
        if len(_in_process) + len(names) > IN_PROCESS_ENTRIES:
            _in_process.clear()  # mostly entries of old versions
        for pk, name in names.items():
            if pk in values:
                _in_process[name] = (values[pk], now + seconds)
    return values
