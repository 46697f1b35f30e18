"""Bench loader: scales the demo catalogue to 5,000 active products in the bench database.

Runs ``migrate`` and ``seed_demo`` (markets, rates, sellers, categories, demo products), then
bulk-creates products cloned from the demo products' texts in all ten languages (or, while the
catalog has no demo products, from the built-in templates below, with minimal sellers and
categories), 1 to 4 variants each in the seller's currency, explicit prices on about one variant in
ten, the template's images, and the search documents. Idempotent: a database that already holds
the target count is left as it is (``--reset`` drops and rebuilds it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_marketplace python bench/load.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

TARGET_PRODUCTS = 5_000
BATCH = 500
SLUG_PREFIX = "bench-"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_marketplace"
LANGS = ["en", "zh-hans", "es", "pt-br", "ru", "ar", "de", "fr", "ja", "vi"]
TEXT_FIELDS = ("name", "short_description", "description", "material_care")

CATEGORIES = {
    "clothing": (
        "Clothing",
        "服装",
        "Ropa",
        "Roupas",
        "Одежда",
        "ملابس",
        "Bekleidung",
        "Vêtements",
        "衣料品",
        "Quần áo",
    ),
    "electronics": (
        "Electronics",
        "电子产品",
        "Electrónica",
        "Eletrônicos",
        "Электроника",
        "إلكترونيات",
        "Elektronik",
        "Électronique",
        "家電",
        "Điện tử",
    ),
    "beauty": ("Beauty", "美容", "Belleza", "Beleza", "Красота", "تجميل", "Schönheit", "Beauté", "美容", "Làm đẹp"),
    "home": ("Home", "家居", "Hogar", "Casa", "Дом", "المنزل", "Wohnen", "Maison", "ホーム", "Nhà cửa"),
}
SELLERS = {  # slug: name, country, currency, categories it sells in
    "silk-hair": ("Silk Hair Co", "CN", "CNY"),
    "volt-labs": ("Volt Labs", "US", "USD"),
    "alpenwerk": ("Alpenwerk", "DE", "EUR"),
    "nanbu-craft": ("Nanbu Craft", "JP", "JPY"),
}

# Built-in templates: category, seller, brand, HS code, then (name, short description) per language.
TEMPLATES: list[tuple[str, str, str, str, tuple[tuple[str, str], ...]]] = [
    (
        "beauty",
        "silk-hair",
        "Lumina",
        "670420",
        (
            ("Straight human hair wig", "Natural black, 60 cm, lace front"),
            ("真人发顺直假发", "自然黑，60厘米，蕾丝前额"),
            ("Peluca lisa de cabello natural", "Negro natural, 60 cm, frente de encaje"),
            ("Peruca lisa de cabelo humano", "Preto natural, 60 cm, frente de renda"),
            ("Прямой парик из натуральных волос", "Натуральный чёрный, 60 см, кружевная основа"),
            ("باروكة شعر طبيعي ناعم", "أسود طبيعي، 60 سم، واجهة دانتيل"),
            ("Glatte Perücke aus Echthaar", "Naturschwarz, 60 cm, Lace-Front"),
            ("Perruque lisse en cheveux naturels", "Noir naturel, 60 cm, devant en dentelle"),
            ("ストレート人毛ウィッグ", "ナチュラルブラック、60cm、レースフロント"),
            ("Tóc giả thẳng bằng tóc thật", "Đen tự nhiên, 60 cm, viền ren"),
        ),
    ),
    (
        "beauty",
        "silk-hair",
        "Lumina",
        "650500",
        (
            ("Silk sleep cap", "Mulberry silk bonnet that protects hair overnight"),
            ("真丝睡帽", "桑蚕丝睡帽，夜间保护头发"),
            ("Gorro de dormir de seda", "Gorro de seda de morera que protege el cabello"),
            ("Touca de dormir de seda", "Touca de seda de amoreira que protege o cabelo"),
            ("Шёлковый чепчик для сна", "Шапочка из шелка тутового шелкопряда для защиты волос"),
            ("قبعة نوم من الحرير", "قبعة من حرير التوت تحمي الشعر ليلاً"),
            ("Schlafmütze aus Seide", "Haube aus Maulbeerseide, schützt das Haar über Nacht"),
            ("Bonnet de nuit en soie", "Bonnet en soie de mûrier qui protège les cheveux"),
            ("シルクのナイトキャップ", "髪を守る桑の絹のナイトキャップ"),
            ("Mũ ngủ bằng lụa", "Mũ lụa tơ tằm bảo vệ tóc qua đêm"),
        ),
    ),
    (
        "electronics",
        "volt-labs",
        "Sonora",
        "851830",
        (
            ("Wireless noise-cancelling headphones", "Bluetooth headphones with 30-hour battery"),
            ("无线降噪耳机", "蓝牙耳机，30小时续航"),
            ("Auriculares inalámbricos con cancelación de ruido", "Auriculares Bluetooth, 30 horas de batería"),
            ("Fones de ouvido sem fio com cancelamento de ruído", "Fones Bluetooth, 30 horas de bateria"),
            ("Беспроводные наушники с шумоподавлением", "Bluetooth-наушники, 30 часов работы"),
            ("سماعات رأس لاسلكية بخاصية إلغاء الضوضاء", "سماعات بلوتوث، بطارية 30 ساعة"),
            ("Kabellose Kopfhörer mit Geräuschunterdrückung", "Bluetooth-Kopfhörer, 30 Stunden Akku"),
            ("Casque sans fil à réduction de bruit", "Casque Bluetooth, 30 heures d'autonomie"),
            ("ワイヤレスノイズキャンセリングヘッドホン", "Bluetoothヘッドホン、30時間再生"),
            ("Tai nghe không dây chống ồn", "Tai nghe Bluetooth, pin 30 giờ"),
        ),
    ),
    (
        "electronics",
        "volt-labs",
        "Volt",
        "850760",
        (
            ("USB-C power bank 10,000 mAh", "Fast charging for phones and tablets"),
            ("USB-C充电宝 10000毫安时", "手机和平板快速充电"),
            ("Batería externa USB-C 10.000 mAh", "Carga rápida para móviles y tabletas"),
            ("Carregador portátil USB-C 10.000 mAh", "Carga rápida para celulares e tablets"),
            ("Внешний аккумулятор USB-C 10 000 мА·ч", "Быстрая зарядка телефонов и планшетов"),
            ("شاحن متنقل USB-C بسعة 10000 مللي أمبير", "شحن سريع للهواتف والأجهزة اللوحية"),
            ("USB-C-Powerbank 10.000 mAh", "Schnellladen für Handys und Tablets"),
            ("Batterie externe USB-C 10 000 mAh", "Charge rapide pour téléphones et tablettes"),
            ("USB-Cモバイルバッテリー 10000mAh", "スマホとタブレットを急速充電"),
            ("Sạc dự phòng USB-C 10.000 mAh", "Sạc nhanh cho điện thoại và máy tính bảng"),
        ),
    ),
    (
        "clothing",
        "alpenwerk",
        "Alpenwerk",
        "620193",
        (
            ("Waterproof hiking jacket", "Breathable shell against rain and wind"),
            ("防水徒步夹克", "透气防风防雨外壳"),
            ("Chaqueta de senderismo impermeable", "Capa transpirable contra la lluvia y el viento"),
            ("Jaqueta impermeável para trilha", "Camada respirável contra chuva e vento"),
            ("Непромокаемая туристическая куртка", "Дышащая защита от дождя и ветра"),
            ("سترة مشي مقاومة للماء", "طبقة قابلة للتنفس ضد المطر والرياح"),
            ("Wasserdichte Wanderjacke", "Atmungsaktive Jacke gegen Regen und Wind"),
            ("Veste de randonnée imperméable", "Veste respirante contre la pluie et le vent"),
            ("防水ハイキングジャケット", "雨と風に強い透湿シェル"),
            ("Áo khoác leo núi chống nước", "Lớp vỏ thoáng khí chống mưa và gió"),
        ),
    ),
    (
        "clothing",
        "alpenwerk",
        "Alpenwerk",
        "650500",
        (
            ("Merino wool beanie", "Warm, soft and itch-free knit hat"),
            ("美利奴羊毛帽", "保暖柔软不扎人的针织帽"),
            ("Gorro de lana merino", "Gorro de punto cálido, suave y sin picor"),
            ("Gorro de lã merino", "Gorro de tricô quente, macio e que não pinica"),
            ("Шапка из шерсти мериноса", "Тёплая, мягкая и не колючая вязаная шапка"),
            ("قبعة من صوف المارينو", "قبعة محبوكة دافئة وناعمة لا تسبب الحكة"),
            ("Mütze aus Merinowolle", "Warme, weiche und kratzfreie Strickmütze"),
            ("Bonnet en laine mérinos", "Bonnet tricoté chaud, doux et qui ne gratte pas"),
            ("メリノウールのニット帽", "暖かく柔らかでチクチクしないニット帽"),
            ("Mũ len merino", "Mũ đan ấm, mềm và không gây ngứa"),
        ),
    ),
    (
        "home",
        "nanbu-craft",
        "Nanbu",
        "732393",
        (
            ("Cast iron teapot", "Tetsubin kettle for green tea, 0.8 l"),
            ("铸铁茶壶", "铁瓶烧水壶，适合绿茶，0.8升"),
            ("Tetera de hierro fundido", "Hervidor tetsubin para té verde, 0,8 l"),
            ("Bule de ferro fundido", "Chaleira tetsubin para chá verde, 0,8 l"),
            ("Чугунный заварочный чайник", "Чайник тэцубин для зелёного чая, 0,8 л"),
            ("إبريق شاي من الحديد الزهر", "غلاية تيتسوبين للشاي الأخضر، 0.8 لتر"),
            ("Teekanne aus Gusseisen", "Tetsubin-Kessel für grünen Tee, 0,8 l"),
            ("Théière en fonte", "Bouilloire tetsubin pour le thé vert, 0,8 l"),
            ("南部鉄器の鉄瓶", "緑茶用の鉄瓶、0.8リットル"),
            ("Ấm trà gang", "Ấm tetsubin pha trà xanh, 0,8 l"),
        ),
    ),
    (
        "home",
        "nanbu-craft",
        "Nanbu",
        "940540",
        (
            ("Folding camping lantern", "Rechargeable LED lantern, 400 lumens"),
            ("可折叠露营灯", "可充电LED灯，400流明"),
            ("Farol de camping plegable", "Farol LED recargable, 400 lúmenes"),
            ("Lanterna de camping dobrável", "Lanterna LED recarregável, 400 lúmens"),
            ("Складной кемпинговый фонарь", "Перезаряжаемый светодиодный фонарь, 400 люмен"),
            ("فانوس تخييم قابل للطي", "فانوس LED قابل لإعادة الشحن، 400 لومن"),
            ("Faltbare Campinglaterne", "Aufladbare LED-Laterne, 400 Lumen"),
            ("Lanterne de camping pliable", "Lanterne LED rechargeable, 400 lumens"),
            ("折りたたみキャンプランタン", "充電式LEDランタン、400ルーメン"),
            ("Đèn lồng cắm trại gấp gọn", "Đèn LED sạc lại, 400 lumen"),
        ),
    ),
]
# A paragraph per language around the short description, so descriptions have a realistic length.
DESCRIPTIONS = {
    "en": "{short}. Made with care by an independent producer and checked piece by piece before it ships. "
    "Tracked delivery; returns accepted within 30 days.",
    "zh-hans": "{short}。由独立生产商精心制作，每件发货前逐一检查。全程物流跟踪，30天内可退货。",
    "es": "{short}. Hecho con esmero por un productor independiente y revisado pieza a pieza antes del envío. "
    "Envío con seguimiento; devoluciones aceptadas durante 30 días.",
    "pt-br": "{short}. Feito com cuidado por um produtor independente e conferido peça por peça antes do envio. "
    "Entrega rastreada; devoluções aceitas em até 30 dias.",
    "ru": "{short}. Сделано независимым производителем и проверено поштучно перед отправкой. "
    "Доставка с отслеживанием; возврат в течение 30 дней.",
    "ar": "{short}. صُنع بعناية لدى منتج مستقل وفُحص قطعةً قطعة قبل الشحن. توصيل مع التتبع؛ الإرجاع خلال 30 يومًا.",
    "de": "{short}. Sorgfältig von einem unabhängigen Hersteller gefertigt und vor dem Versand Stück für Stück "
    "geprüft. Versand mit Sendungsverfolgung; Rückgabe innerhalb von 30 Tagen.",
    "fr": "{short}. Fabriqué avec soin par un producteur indépendant et vérifié pièce par pièce avant l'envoi. "
    "Livraison suivie ; retours acceptés sous 30 jours.",
    "ja": "{short}。独立した生産者が丁寧に作り、出荷前に一点ずつ検品しています。追跡付き配送、30日以内の返品可。",
    "vi": "{short}. Được nhà sản xuất độc lập làm cẩn thận và kiểm tra từng chiếc trước khi gửi. "
    "Giao hàng có theo dõi; nhận đổi trả trong 30 ngày.",
}
# Rough units of each seller currency per US dollar, for plausible prices.
PER_USD = {"USD": Decimal(1), "EUR": Decimal("0.92"), "CNY": Decimal("7.2"), "JPY": Decimal(150)}
OPTIONS = [{"size": s} for s in ("S", "M", "L", "XL")]
LINES = ("Classic", "Pro", "Mini", "Max", "Lite", "Plus", "Studio", "Travel", "Sport", "Eco", "Air", "Nova")


def _column(name: str, language: str) -> str:
    return f"{name}_{language.replace('-', '_')}"


@dataclass
class Template:
    seller_id: int
    category_id: int
    brand: str
    hs_code: str
    origin: str
    texts: dict[str, str]  # column -> value
    images: list[tuple[str, str, str]] = field(default_factory=list)  # image, thumbnail, alt


def ensure_database(url: str, *, reset: bool) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reset:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def ensure_sellers_and_categories() -> None:
    """Minimal sellers and categories when ``seed_demo`` brought none (no catalog demo yet)."""
    from catalog.models import Category, Seller

    for position, (slug, names) in enumerate(CATEGORIES.items()):
        texts = {_column("name", lang): value for lang, value in zip(LANGS, names, strict=True)}
        Category.objects.get_or_create(slug=slug, defaults={"position": position, **texts})
    for slug, (name, country, currency) in SELLERS.items():
        Seller.objects.get_or_create(
            slug=slug, defaults={"name": name, "country": country, "base_currency": currency, "verified": True}
        )


def builtin_templates() -> list[Template]:
    from catalog.models import Category, Seller

    ensure_sellers_and_categories()
    sellers = {s.slug: s for s in Seller.objects.filter(slug__in=SELLERS)}
    categories = {c.slug: c for c in Category.objects.filter(slug__in=CATEGORIES)}
    templates = []
    for category, seller, brand, hs_code, per_language in TEMPLATES:
        texts = {}
        for lang, (name, short) in zip(LANGS, per_language, strict=True):
            texts[_column("name", lang)] = name
            texts[_column("short_description", lang)] = short
            texts[_column("description", lang)] = DESCRIPTIONS[lang].format(short=short)
        templates.append(
            Template(sellers[seller].pk, categories[category].pk, brand, hs_code, str(sellers[seller].country), texts)
        )
    return templates


def demo_templates() -> list[Template]:
    """The demo products (whatever ``seed_demo`` created), with their texts and images."""
    from catalog.models import Product

    columns = [_column(name, lang) for name in TEXT_FIELDS for lang in LANGS]
    products = (
        Product.objects.filter(status=Product.Status.ACTIVE)
        .exclude(slug__startswith=SLUG_PREFIX)
        .prefetch_related("images")
        .order_by("pk")
    )
    return [
        Template(
            p.seller_id,
            p.category_id,
            p.brand,
            p.hs_code,
            str(p.origin_country),
            {c: getattr(p, c) for c in columns if getattr(p, c)},
            [(i.image.name, i.thumbnail.name, i.alt) for i in p.images.all()],
        )
        for p in products
    ]


def create_products(count: int, templates: list[Template], rng: random.Random) -> list[int]:
    from django.utils import timezone
    from djmoney.money import Money

    from catalog.models import Product, ProductImage, Seller, Variant, VariantPrice

    currencies = dict(Seller.objects.values_list("pk", "base_currency"))
    start = Product.objects.filter(slug__startswith=SLUG_PREFIX).count()
    now = timezone.now()
    ids: list[int] = []
    for offset in range(0, count, BATCH):
        products, chosen = [], []
        for n in range(start + offset, start + min(offset + BATCH, count)):
            template = templates[n % len(templates)]
            # A product line and a model number, untranslated as such names are, make each name
            # distinct: a search for "Kopfhörer Studio" finds one line, not every headphone.
            model = f"{LINES[(n // len(templates)) % len(LINES)]} M{n:05d}"
            texts = dict(template.texts)
            for lang in LANGS:
                if texts.get(_column("name", lang)):
                    texts[_column("name", lang)] = f"{texts[_column('name', lang)]} {model}"
            products.append(
                Product(
                    seller_id=template.seller_id,
                    category_id=template.category_id,
                    slug=f"{SLUG_PREFIX}{n:05d}",
                    status=Product.Status.ACTIVE,
                    brand=template.brand,
                    hs_code=template.hs_code,
                    origin_country=template.origin,
                    published_at=now - timedelta(minutes=rng.randrange(365 * 24 * 60)),
                    featured=rng.random() < 0.02,
                    **texts,
                )
            )
            chosen.append(template)
        created = Product.objects.bulk_create(products)
        variants, images = [], []
        for product, template in zip(created, chosen, strict=True):
            currency = currencies[template.seller_id]
            usd = Decimal(rng.randrange(800, 30_000)) / 100
            for position in range(rng.randint(1, 4)):
                amount = (usd + position * 5) * PER_USD.get(currency, Decimal(1))
                amount = amount.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))
                variants.append(
                    Variant(
                        product=product,
                        sku=f"B{product.slug[len(SLUG_PREFIX) :]}-{position}",
                        options=OPTIONS[position],
                        price=Money(amount, currency),
                        weight_grams=rng.randrange(100, 2_000),
                        position=position,
                    )
                )
            images.extend(
                ProductImage(product=product, image=image, thumbnail=thumb, alt=alt, position=i)
                for i, (image, thumb, alt) in enumerate(template.images)
            )
        variants = Variant.objects.bulk_create(variants)
        # About one variant in ten has an explicit price, in yen or euros (never the seller's currency).
        explicit = []
        for variant in variants:
            if rng.random() < 0.1:
                code = "JPY" if variant.price.currency.code != "JPY" else "EUR"
                usd = variant.price.amount / PER_USD.get(variant.price.currency.code, Decimal(1))
                amount = (usd * PER_USD[code]).quantize(Decimal(1) if code == "JPY" else Decimal("0.01"))
                explicit.append(VariantPrice(variant=variant, price=Money(amount, code)))
        VariantPrice.objects.bulk_create(explicit)
        ProductImage.objects.bulk_create(images)
        ids.extend(p.pk for p in created)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=TARGET_PRODUCTS, help="active products wanted")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the bench database first")
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("The bench database must be PostgreSQL (DATABASE_URL=postgres://...).")
    ensure_database(os.environ["DATABASE_URL"], reset=args.reset)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import translation

    from catalog.models import Product
    from catalog.search import refresh_search_documents

    started = time.monotonic()
    translation.activate("en")  # modeltranslation writes ``name=`` to the active language
    call_command("migrate", verbosity=0, interactive=False)
    active = Product.objects.filter(status=Product.Status.ACTIVE)
    if active.count() >= args.products:
        print(f"bench database ready: {active.count()} active products (use --reset to rebuild)")
        return
    call_command("seed_demo", force=True, verbosity=0)
    call_command("refresh_fx_rates", verbosity=0)
    templates = demo_templates()
    source = "demo products"
    if len(templates) < 8:
        templates, source = builtin_templates(), "built-in templates (no catalog demo products)"
    missing = args.products - active.count()
    rng = random.Random(args.seed)
    with transaction.atomic():
        ids = create_products(missing, templates, rng)
    print(f"created {len(ids)} products from {len(templates)} {source} in {time.monotonic() - started:.0f} s")
    documents_started = time.monotonic()
    written = refresh_search_documents(ids, batch_size=250)
    print(f"wrote {written} search documents in {time.monotonic() - documents_started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"bench database ready: {active.count()} active products in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
