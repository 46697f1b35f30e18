"""Search over the translated texts of every language: relevance on PostgreSQL (full-text search per
language, CJK substrings, typos, English fallback), the SQLite fallback, the listing page, and the
search documents following the texts they index."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Category, Product, SearchDocument, Seller
from catalog.search import LANGUAGES, cjk_index_text, refresh_search_documents, search_products
from catalog.selectors import visible_products

pytestmark = pytest.mark.django_db

# name, short description, description per language. "cap" is the decoy: its description mentions
# the wig, so a search for the wig finds both and must rank the wig (named for it) first.
TEXTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "wig": {
        "en": ("Straight human hair wig", "Natural black, 60 cm, lace front", "A soft wig of 100% human hair."),
        "fr": ("Perruque lisse en cheveux naturels", "Noir naturel, 60 cm", "Une perruque douce, prête à porter."),
        "es": ("Peluca lisa de cabello natural", "Negro natural, 60 cm", "Una peluca suave de cabello humano."),
        "de": ("Glatte Perücke aus Echthaar", "Naturschwarz, 60 cm", "Eine weiche Perücke aus 100 % Echthaar."),
        "zh-hans": ("真人发顺直假发", "自然黑，60厘米，蕾丝前额", "柔软的100%真人发假发，即戴即用。"),
        "ja": ("ストレート人毛ウィッグ", "ナチュラルブラック、60cm", "柔らかい100%人毛のウィッグ。"),
    },
    "cap": {
        "en": ("Silk sleep cap", "Mulberry silk", "Protects your hair and your wig overnight."),
        "fr": ("Bonnet de nuit en soie", "Soie de mûrier", "Protège vos cheveux et votre perruque la nuit."),
        "es": ("Gorro de dormir de seda", "Seda de morera", "Protege tu cabello y tu peluca durante la noche."),
        "de": ("Schlafmütze aus Seide", "Maulbeerseide", "Schützt Haare und Perücke über Nacht."),
        "zh-hans": ("真丝睡帽", "桑蚕丝", "夜间保护您的头发和假发。"),
        "ja": ("シルクのナイトキャップ", "桑の絹", "夜の間、髪とウィッグを守ります。"),
    },
    "lantern": {
        "en": ("Folding camping lantern", "Rechargeable LED lantern, 400 lumens", "Lights up your tent all night."),
        "fr": ("Lanterne de camping pliable", "Lanterne LED rechargeable", "Éclaire votre tente toute la nuit."),
        "es": ("Farol de camping plegable", "Farol LED recargable, 400 lúmenes", "Ilumina tu tienda toda la noche."),
        "de": ("Faltbare Campinglaterne", "Aufladbare LED-Laterne, 400 Lumen", "Erhellt Ihr Zelt die ganze Nacht."),
        "zh-hans": ("可折叠露营灯", "可充电LED灯，400流明", "整夜照亮您的帐篷。"),
        "ja": ("折りたたみキャンプランタン", "充電式LEDランタン、400ルーメン", "テントを一晩中照らします。"),
    },
    "headphones": {
        "en": ("Wireless noise-cancelling headphones", "Bluetooth headphones, 30-hour battery", "Rich sound."),
        "fr": ("Casque sans fil à réduction de bruit", "Casque Bluetooth, 30 heures d'autonomie", "Un son riche."),
        "es": ("Auriculares inalámbricos con cancelación de ruido", "Auriculares Bluetooth", "Sonido rico."),
        "de": (
            "Kabellose Kopfhörer mit Geräuschunterdrückung",
            "Bluetooth-Kopfhörer, 30 Stunden Akku",
            "Satter Klang.",
        ),
        "zh-hans": ("无线降噪耳机", "蓝牙耳机，30小时续航", "长途旅行的丰富音质。"),
        "ja": (
            "ワイヤレスノイズキャンセリングヘッドホン",
            "Bluetoothヘッドホン、30時間再生",
            "長旅にも豊かなサウンド。",
        ),
    },
    "jacket": {
        "en": ("Waterproof hiking jacket", "Breathable jacket against rain and wind", "Sealed seams, adjustable hood."),
        "fr": ("Veste de randonnée imperméable", "Veste respirante contre la pluie", "Coutures étanches, capuche."),
        "es": ("Chaqueta de senderismo impermeable", "Chaqueta transpirable contra la lluvia", "Costuras selladas."),
        "de": ("Wasserdichte Wanderjacke", "Atmungsaktive Jacke gegen Regen und Wind", "Verschweißte Nähte."),
        "zh-hans": ("防水徒步夹克", "透气防风防雨夹克", "密封接缝，可调节兜帽。"),
        "ja": ("防水ハイキングジャケット", "雨と風に強い透湿ジャケット", "シームシーリング、調節可能なフード。"),
    },
    "teapot": {
        "en": ("Cast iron teapot", "Tetsubin kettle for green tea, 0.8 l", "Keeps tea warm for a long time."),
        "fr": ("Théière en fonte", "Bouilloire tetsubin pour le thé vert", "Garde le thé chaud longtemps."),
        "es": ("Tetera de hierro fundido", "Hervidor tetsubin para té verde", "Mantiene el té caliente."),
        "de": ("Teekanne aus Gusseisen", "Tetsubin-Kessel für grünen Tee", "Hält den Tee lange warm."),
        "zh-hans": ("铸铁茶壶", "铁瓶烧水壶，适合绿茶，0.8升", "长时间保持茶的温度。"),
        "ja": ("南部鉄器の鉄瓶", "緑茶用、0.8リットル", "お茶を長く温かく保ちます。"),
    },
}
BRANDS = {"wig": "Lumina", "cap": "", "lantern": "Trailglow", "headphones": "Sonora", "jacket": "Alpenwerk"}


def _column(field: str, language: str) -> str:
    return f"{field}_{language.replace('-', '_')}"


def make_product(seller: Seller, category: Category, slug: str, **extra: object) -> Product:
    texts = {}
    for language, (name, short, description) in TEXTS.get(slug, {}).items():
        texts[_column("name", language)] = name
        texts[_column("short_description", language)] = short
        texts[_column("description", language)] = description
    texts.update(extra)
    texts.setdefault("name_en", slug)
    return Product.objects.create(
        seller=seller,
        category=category,
        slug=slug,
        status=Product.Status.ACTIVE,
        brand=BRANDS.get(slug, ""),
        hs_code="670420",
        origin_country="CN",
        published_at=timezone.now(),
        **texts,
    )


@pytest.fixture
def seller(db: None) -> Seller:
    return Seller.objects.create(slug="test-seller", name="Test Seller", country="DE", base_currency="EUR")


@pytest.fixture
def category(db: None) -> Category:
    return Category.objects.create(slug="goods", name_en="Goods", name_fr="Articles", name_de="Waren")


@pytest.fixture
def catalog(seller: Seller, category: Category) -> dict[str, Product]:
    return {slug: make_product(seller, category, slug) for slug in TEXTS}


def ranked(q: str, language: str) -> list[str]:
    found = search_products(visible_products(), q, language).order_by("-search_rank", "pk")
    return [p.slug for p in found]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("language", "q", "expected"),
    [
        # full-text search in the language's configuration; the decoy mentions the word lower down
        ("en", "wig", ["wig", "cap"]),
        ("en", "headphones bluetooth", ["headphones"]),
        ("en", "lanterns", ["lantern"]),  # English stemming
        ("fr", "perruque", ["wig", "cap"]),
        ("fr", "théière", ["teapot"]),
        ("fr", "lanternes", ["lantern"]),  # French stemming
        ("es", "pelucas", ["wig", "cap"]),  # Spanish stemming
        ("es", "auriculares inalámbricos", ["headphones"]),
        ("de", "Perücken", ["wig", "cap"]),  # German stemming: plural
        ("de", "Kopfhörern", ["headphones"]),  # German stemming: dative plural
        ("de", "Jacken", ["jacket"]),
        # no word boundaries: substrings, ranked by characters and bigrams (name first)
        ("zh-hans", "假发", ["wig", "cap"]),
        ("zh-hans", "耳机", ["headphones"]),
        ("zh-hans", "茶壶", ["teapot"]),
        ("ja", "ウィッグ", ["wig", "cap"]),
        ("ja", "ランタン", ["lantern"]),
        ("ja", "鉄瓶", ["teapot"]),
        # typos: nothing matches as typed, trigram word similarity to the name does
        ("fr", "perruqe", ["wig"]),
        ("es", "pelucca", ["wig"]),
        ("en", "headphnes", ["headphones"]),
        ("de", "Kopfhorer", ["headphones"]),
        # the English document is searched in every language: brands, English words
        ("ja", "Sonora", ["headphones"]),
        ("fr", "Alpenwerk", ["jacket"]),
        ("zh-hans", "teapot", ["teapot"]),
    ],
)
def test_search_finds_and_ranks_in_each_language(
    catalog: dict[str, Product], language: str, q: str, expected: list[str]
) -> None:
    # when
    found = ranked(q, language)

    # then the expected product comes first, and unrelated products are not returned
    assert found == expected


@pytest.mark.postgres
def test_rank_prefers_the_active_language_and_the_name(catalog: dict[str, Product]) -> None:
    # given: the teapot is named in French; "thé" also appears in its short description only
    found = search_products(visible_products(), "théière", "fr").order_by("-search_rank")
    assert [(p.slug, p.search_rank > 0) for p in found] == [("teapot", True)]

    # then an English word found only through the English document ranks lower than the same
    # product found in the active language
    (through_english,) = search_products(visible_products(), "teapot", "fr")
    (through_french,) = search_products(visible_products(), "théière", "fr")
    assert 0 < through_english.search_rank < through_french.search_rank


@pytest.mark.postgres
def test_typos_are_only_a_fallback(catalog: dict[str, Product], seller: Seller, category: Category) -> None:
    # given a product whose name looks like "tea" but is not tea
    make_product(seller, category, "team-shirt", name_en="Team shirt")

    # then a query that matches as typed does not bring look-alikes; a typo does
    assert ranked("tea", "en") == ["teapot"]
    assert ranked("teapt", "en") == ["teapot"]


@pytest.mark.postgres
def test_search_only_returns_the_given_products(catalog: dict[str, Product]) -> None:
    # given the wig archived
    Product.objects.filter(slug="wig").update(status=Product.Status.ARCHIVED)

    # then it is no longer found, neither as typed nor through a typo
    assert ranked("perruque", "fr") == ["cap"]
    assert ranked("perruqe", "fr") == []  # the only name like it is archived


def test_cjk_documents_index_characters_and_bigrams() -> None:
    assert cjk_index_text("Lumina 假发套").split() == ["Lumina", "假", "发", "套", "假发", "发套"]
    # the katakana middle dot is punctuation: it splits runs
    assert cjk_index_text("ウィッグ・キャップ").split() == [
        *"ウィッグ",
        "ウィ",
        "ィッ",
        "ッグ",
        "・",
        *"キャップ",
        "キャ",
        "ャッ",
        "ップ",
    ]


def test_fallback_search_matches_every_word_in_the_language_or_english(catalog: dict[str, Product]) -> None:
    """The embedded default (SQLite) matches with icontains and ranks by words in the name; on
    PostgreSQL the same queries find the same products, ranked."""
    # when / then: the active language, and English, every word required
    assert set(ranked("perruque", "fr")) == {"wig", "cap"}
    assert ranked("假发", "zh-hans")[0] == "wig"
    assert ranked("ランタン", "ja") == ["lantern"]
    assert ranked("Sonora", "ja") == ["headphones"]
    assert ranked("lantern", "fr") == ["lantern"]
    assert ranked("perruque nuit", "fr") == ["cap"]
    assert ranked("   ", "fr") == sorted(catalog, key=lambda slug: catalog[slug].pk)  # no words: no filter
    if connection.vendor == "sqlite":
        # the wig is named for the word, the cap only mentions it: the wig comes first
        ranks = {p.slug: p.search_rank for p in search_products(visible_products(), "perruque", "fr")}
        assert ranks == {"wig": 1.0, "cap": 0.0}
        assert ranked("perruque", "fr") == ["wig", "cap"]


def _result_slugs(html: str) -> list[str]:
    return re.findall(r'data-testid="product-card" data-slug="([^"]+)"', html)


def test_listing_page_searches_in_the_url_language(client: Client, catalog: dict[str, Product]) -> None:
    # when
    french = client.get("/fr/products/", {"q": "perruque"})
    chinese = client.get("/zh-hans/products/", {"q": "假发"})
    nothing = client.get("/de/products/", {"q": "Perücke Laterne"})

    # then
    assert french.status_code == 200
    assert set(_result_slugs(french.content.decode())) == {"wig", "cap"}
    if connection.vendor == "postgresql":  # ranked, named for it first
        assert _result_slugs(french.content.decode()) == ["wig", "cap"]
    assert set(_result_slugs(chinese.content.decode())) == {"wig", "cap"}
    assert _result_slugs(nothing.content.decode()) == []


def test_listing_search_query_count_is_constant(client: Client, seller: Seller, category: Category) -> None:
    # given three matching products, then twelve more
    def count_queries() -> tuple[int, int]:
        """The page's queries with every cache empty, then with them warm (catalog.cache)."""
        cache.clear()
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/de/products/", {"q": "Laterne", "per_page": 48})
            assert response.status_code == 200
            counts.append(len(queries))
        return counts[0], counts[1]

    for i in range(3):
        make_product(seller, category, f"lantern-{i}", name_de=f"Laterne {i}")
    few = count_queries()
    for i in range(3, 15):
        make_product(seller, category, f"lantern-{i}", name_de=f"Laterne {i}")
    many = count_queries()

    # then
    assert few == many
    assert few[1] < few[0]  # warm: the cards' texts and prices come from the catalog cache


def test_documents_follow_the_product_category_and_seller(
    catalog: dict[str, Product], seller: Seller, category: Category
) -> None:
    wig = catalog["wig"]
    assert SearchDocument.objects.filter(product=wig).count() == len(LANGUAGES)
    assert set(ranked("perruque", "fr")) == {"wig", "cap"}

    # when the French name changes
    wig.name_fr = "Postiche bouclée"
    wig.description_fr = "Un postiche souple."
    wig.save()

    # then the old word no longer finds it and the new one does
    assert ranked("perruque", "fr") == ["cap"]
    assert ranked("postiche", "fr") == ["wig"]
    assert SearchDocument.objects.get(product=wig, language="fr").title == "Postiche bouclée"

    # a missing translation falls back to English
    wig.name_vi = ""
    wig.save()
    assert SearchDocument.objects.get(product=wig, language="vi").title == "Straight human hair wig"

    # when the category and the seller are renamed, their products' documents follow
    category.name_fr = "Coiffure"
    category.save()
    seller.name = "Maison Lumière"
    seller.save()
    assert set(ranked("coiffure", "fr")) == set(catalog)
    assert set(ranked("Lumière", "fr")) == set(catalog)

    # a save of other fields leaves the documents alone
    before = SearchDocument.objects.get(product=wig, language="fr").text
    Product.objects.filter(pk=wig.pk).update(name_fr="Changed behind the signal's back")
    wig.refresh_from_db()
    wig.status = Product.Status.ARCHIVED
    wig.save(update_fields=["status"])
    assert SearchDocument.objects.get(product=wig, language="fr").text == before

    # and a bulk refresh rebuilds it
    assert refresh_search_documents([wig.pk]) == len(LANGUAGES)
    assert SearchDocument.objects.get(product=wig, language="fr").title == "Changed behind the signal's back"


def test_migrate_gives_documents_to_products_without(catalog: dict[str, Product]) -> None:
    # given products whose documents are missing (a database from before search, a bulk_create)
    SearchDocument.objects.filter(product__slug__in=["wig", "teapot"]).delete()
    assert set(ranked("perruque", "fr")) == {"cap"}

    # when
    call_command("migrate", verbosity=0)

    # then
    assert SearchDocument.objects.count() == len(catalog) * len(LANGUAGES)
    assert set(ranked("perruque", "fr")) == {"wig", "cap"}
