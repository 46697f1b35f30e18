"""Every interface string is translated into all ten languages, and the catalogues match the code.

When a string is added or changed: ``make messages``, then give every empty or ``#, fuzzy`` entry
in ``locale/*/LC_MESSAGES/django.po`` its translation (and drop the fuzzy flag). These tests say
which entries are left.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from tests.catalogues import LANGUAGE_DIRS, compile_stale_catalogues, po_path

SUPPORTED = ["en", "zh-hans", "es", "pt-br", "ru", "ar", "de", "fr", "ja", "vi"]  # CONTRACT.md
NPLURALS = {"en": 2, "zh_Hans": 1, "es": 2, "pt_BR": 2, "ru": 3, "ar": 6, "de": 2, "fr": 2, "ja": 1, "vi": 1}
# What `make messages` leaves out (keep in step with the Makefile).
MAKEMESSAGES_IGNORE = [".venv", "tests", "bench"]

PERCENT_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?([diouxXeEfFgGcrsa%])")
BRACE_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)?(?:![rsa])?(?::[^{}]*)?\}(?!\})")


def load(language_dir: str) -> Catalog:
    with po_path(language_dir).open("rb") as f:
        return read_po(f, locale=language_dir, domain="django")


def placeholders(text: str, flags: set[str]) -> list[str]:
    """The placeholders Python fills in: ``%(name)s``/``%s`` and, for brace formats, ``{name}``."""
    found = []
    if "python-format" in flags:
        found += [
            f"%({name})" if name else f"%{kind}" for name, kind in PERCENT_PLACEHOLDER.findall(text) if kind != "%"
        ]
    if "python-brace-format" in flags:
        found += ["{" + name + "}" for name in BRACE_PLACEHOLDER.findall(text)]
    return sorted(found)


def problems_in(catalog: Catalog, language_dir: str) -> list[str]:
    problems = []
    message: Message
    for message in catalog:
        if not message.id:
            continue
        where = f"{language_dir}: {message.id!r}"
        if message.fuzzy:
            problems.append(f"{where} is fuzzy")
        if message.pluralizable:
            forms = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
            if len(forms) != catalog.num_plurals or not all(forms):
                problems.append(f"{where} needs {catalog.num_plurals} plural forms, has {sum(map(bool, forms))}")
                continue
            # A form may leave out the count ("one item"), but none may add a name the code does not pass,
            # and together they keep every placeholder.
            wanted = set(placeholders(message.id[0], message.flags)) | set(placeholders(message.id[1], message.flags))
            got = [set(placeholders(form, message.flags)) for form in forms]
            if any(g - wanted for g in got) or set().union(*got) != wanted:
                problems.append(f"{where}: placeholders {sorted(wanted)} not kept in {forms!r}")
        else:
            if not message.string:
                problems.append(f"{where} is untranslated")
                continue
            if placeholders(message.id, message.flags) != placeholders(message.string, message.flags):
                problems.append(f"{where}: placeholders not kept in {message.string!r}")
    return problems


def test_every_supported_language_has_a_catalogue() -> None:
    assert [code for code, _name in settings.LANGUAGES] == SUPPORTED
    assert sorted(LANGUAGE_DIRS.values()) == sorted(NPLURALS)
    missing = [str(po_path(d)) for d in LANGUAGE_DIRS.values() if not po_path(d).is_file()]
    assert not missing, f"missing catalogues: {missing}"


@pytest.mark.parametrize("language_dir", sorted(NPLURALS))
def test_catalogue_is_fully_translated(language_dir: str) -> None:
    # given
    catalog = load(language_dir)
    # then
    assert not catalog.fuzzy, f"{language_dir}: the header is marked fuzzy"
    assert catalog.locale_identifier == language_dir, "the header's Language field"
    assert catalog.num_plurals == NPLURALS[language_dir], "the header's Plural-Forms"
    assert len(catalog) > 1, f"{language_dir}: the catalogue is empty"
    problems = problems_in(catalog, language_dir)
    assert not problems, "run `make messages`, then translate:\n" + "\n".join(problems)


def test_english_catalogue_repeats_the_source() -> None:
    for message in load("en"):
        if message.id and not message.pluralizable:
            assert message.string == message.id


def _extract_template(tmp_path: Path) -> Catalog:
    """The template ``make messages`` would extract from the code as it is now.

    Django's makemessages walks its working directory and writes into the first of LOCALE_PATHS,
    so it runs in a copy of the project, whose settings point LOCALE_PATHS into the copy.
    """
    project = Path(settings.BASE_DIR)
    copy = tmp_path / "project"
    skip_top = {*MAKEMESSAGES_IGNORE, "locale", "media", "staticfiles", "var", "node_modules"}
    shutil.copytree(
        project,
        copy,
        ignore=lambda directory, names: [
            n
            for n in names
            if n.startswith(".")
            or n in {"__pycache__", "db.sqlite3"}
            or n.endswith((".pyc", ".mo", ".sqlite3"))
            or (Path(directory) == project and n in skip_top)
        ],
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}}
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    ignores = [f"--ignore={pattern}" for pattern in MAKEMESSAGES_IGNORE]
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "en", "--no-location", "--keep-pot", *ignores],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pot = (copy / "locale" / "django.pot").read_bytes()
    # xgettext leaves the template's Plural-Forms as a placeholder Babel cannot parse.
    pot = pot.replace(b"nplurals=INTEGER; plural=EXPRESSION;", b"nplurals=2; plural=(n != 1);")
    return read_po(io.BytesIO(pot))


def _keys(catalog: Catalog) -> set[tuple[object, str | None]]:
    return {(m.id, m.context) for m in catalog if m.id}


def test_catalogues_are_up_to_date_with_the_code(tmp_path: Path) -> None:
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("GNU gettext (xgettext, msgmerge) is needed to check the catalogues")
        pytest.skip("needs GNU gettext (apt-get install gettext)")
    # given: what the code asks to translate
    wanted = _keys(_extract_template(tmp_path))
    assert wanted, "makemessages found no strings"
    # then: every catalogue has exactly those entries
    stale = []
    for language_dir in sorted(NPLURALS):
        have = _keys(load(language_dir))
        if have != wanted:
            stale.append(f"{language_dir}: missing {_names(wanted - have)}, no longer used {_names(have - wanted)}")
    assert not stale, "catalogues out of date: run `make messages` and translate\n" + "\n".join(stale)


def _names(keys: set[tuple[object, str | None]]) -> list[str]:
    return sorted(f"{context}|{msgid}" if context else str(msgid) for msgid, context in keys)


@pytest.mark.django_db
@pytest.mark.parametrize("code", SUPPORTED)
def test_home_page_speaks_the_language(client: Client, code: str) -> None:
    # given
    compile_stale_catalogues()
    # when
    response = client.get(f"/{code}/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    direction = "rtl" if code == "ar" else "ltr"
    assert f'<html lang="{code}" dir="{direction}"' in html
    english = ["Borderless Market", "Sign in", "Language and currency"]
    with translation.override(code):
        translated = [translation.gettext(text) for text in english]
    assert all(escape(text) in html for text in translated), translated
    if code != "en":
        assert all(t != e for t, e in zip(translated, english, strict=True)), translated
