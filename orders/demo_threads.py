"""Demo feedback threads (issue 7): ``seed(stdout)``, idempotent (run twice = same data).

Threads between the demo buyers (marketplace/demo.py) and the demo producers (catalog/demo.py), in
English, Japanese, Spanish and Arabic and in every status, including the wig story: a buyer's wig
shed its hair when wet, the producer answered, and published the "waterproof glue" revision (in
all ten languages) that answers the thread. Verified-purchase threads hang on delivered demo orders
created here (``demo_order_line``). Each thread is found again by its fixed ``client_key``; a thread
that exists is left as it is. The demo's threads are already "e-mailed" and "read" up to their
last message, so seeding sends no e-mail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO
from typing import IO

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max
from django.utils import timezone
from djmoney.money import Money
from PIL import Image, ImageDraw

from catalog.models import Product, Seller, Variant
from catalog.services import set_response_time
from logistics.models import Warehouse
from marketplace.models import User

from .feedback import open_thread, post_message, publish_revision, resolve_thread
from .feedback_models import FeedbackThread, Message, ProductRevision, RevisionLink, Side
from .feedback_selectors import compute_response_stats
from .models import Cart, Checkout, Order, OrderLine, SubOrder

NAMESPACE = uuid.UUID("5b0c3f4e-7a53-4d0e-9a5e-0f6f2d7c1a99")


def key(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


# --- Orders behind verified purchases --------------------------------------------------------------


def demo_order_line(
    buyer: User,
    variant: Variant,
    *,
    number: str,
    status: str = Order.Status.DELIVERED,
    warehouse: Warehouse | None = None,
) -> OrderLine:
    """A one-line order of ``variant`` for ``buyer`` in the seller's currency (so no FX rate is
    needed), in ``status``; found again by ``number``. Rows are bulk-created: placing an order
    through checkout would reserve stock and e-mail the buyer, which a demo order must not do."""
    line = OrderLine.objects.filter(order__number=number).select_related("order").first()
    if line is not None:
        return line
    product = variant.product
    if warehouse is None:
        warehouse = Warehouse.objects.filter(sellers=product.seller_id).order_by("kind", "code").first()
    if warehouse is None:
        raise ValueError(f"no warehouse for seller {product.seller_id}: seed logistics first")
    price = variant.price
    currency = price.currency.code
    zero = Money(0, currency)
    country = str(buyer.country or "US")
    language = buyer.preferred_language or "en"
    address = {
        "name": buyer.get_full_name() or "Demo Buyer",
        "line1": "1 Demo Street",
        "line2": "",
        "city": "Demo City",
    }
    [cart] = Cart.objects.bulk_create([Cart(user=buyer, status=Cart.Status.ORDERED)])
    [checkout] = Checkout.objects.bulk_create(
        [
            Checkout(
                cart=cart,
                buyer=buyer,
                email=buyer.email,
                postal_code="",
                country=country,
                phone="+12025550123",
                language=language,
                currency=currency,
                **address,
            )
        ]
    )
    [order] = Order.objects.bulk_create(
        [
            Order(
                number=number,
                checkout=checkout,
                buyer=buyer,
                email=buyer.email,
                language=language,
                currency=currency,
                country=country,
                shipping_address={**address, "postal_code": "", "country": country, "phone": "+12025550123"},
                status=status,
                goods=price,
                shipping=zero,
                duties=zero,
                taxes=zero,
                fees=zero,
                total=price,
                due_at_door=zero,
            )
        ]
    )
    [sub_order] = SubOrder.objects.bulk_create(
        [SubOrder(order=order, seller_id=product.seller_id, status=status, goods=price)]
    )
    [line] = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                sub_order=sub_order,
                variant=variant,
                warehouse=warehouse,
                name=product.name_en or product.name,
                sku=variant.sku,
                hs_code=product.hs_code,
                origin_country=product.origin_country,
                quantity=1,
                unit_price_seller=price,
                unit_price=price,
                fx_rate=Decimal(1),
                line_total=price,
            )
        ]
    )
    return line


# --- The conversations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    side: str  # Side.BUYER / Side.SELLER, or "resolve-buyer" / "resolve-seller"
    hours: float  # after the thread was opened
    language: str = ""
    text: str = ""
    photo: bool = False


@dataclass(frozen=True)
class Story:
    name: str
    buyer: str
    seller: str
    product: str
    category: str
    subject: str
    days_ago: int
    order: str = ""  # a demo order number: the thread is a verified purchase
    says: tuple[Say, ...] = field(default_factory=tuple)


WIG = "lace-front-human-hair-wig"

STORIES: list[Story] = [
    Story(
        "wig-sheds-when-wet",
        "buyer@example.com",
        "silkroad-hair",
        WIG,
        FeedbackThread.Category.QUALITY,
        "The wig sheds when wet",
        days_ago=12,
        order="DEMO-FB-1001",
        says=(
            Say(
                Side.BUYER,
                0,
                "en",
                "I wore the wig swimming last weekend and it shed a lot of hair as soon as it got wet: there were "
                "strands all over my towel. Dry, it is perfect. Is this normal? Photo attached.",
                photo=True,
            ),
            Say(
                Side.SELLER,
                5,
                "en",
                "Thank you for the photo, it helped a lot. The wefts of this cap are fixed with a glue that softens "
                "in chlorinated water. We are testing a waterproof glue now and will tell you when the new version "
                "is ready. Until then, please rinse the wig in cool water after swimming and let it dry on a stand.",
            ),
            Say(Side.BUYER, 26, "en", "Thanks for the quick answer! I'll wait for the new version."),
            Say(
                Side.SELLER,
                6 * 24,
                "en",
                "The waterproof version is ready: every weft is now fixed with a waterproof, chlorine-resistant glue, "
                "tested through 30 wash and swim cycles. We have sent you a replacement free of charge.",
            ),
            Say(Side.BUYER, 8 * 24, "en", "The replacement arrived and survived the pool. Thank you!"),
            Say("resolve-buyer", 8 * 24 + 1),
        ),
    ),
    Story(
        "bob-wig-cap-size",
        "buyer-jp@example.com",
        "silkroad-hair",
        "human-hair-bob-wig",
        FeedbackThread.Category.QUESTION,
        "キャップのサイズについて",
        days_ago=5,
        says=(
            Say(Side.BUYER, 0, "ja", "頭囲が54cmなのですが、このボブウィッグのキャップは調整できますか？"),
            Say(
                Side.SELLER,
                3,
                "ja",
                "ご質問ありがとうございます。キャップの内側に調整ストラップがあり、52〜58cmに対応しています。"
                "54cmでしたら問題なくお使いいただけます。",
            ),
        ),
    ),
    Story(
        "argan-oil-on-synthetic",
        "buyer-mx@example.com",
        "silkroad-hair",
        "argan-hair-oil",
        FeedbackThread.Category.QUESTION,
        "¿Sirve para pelucas sintéticas?",
        days_ago=9,
        says=(
            Say(Side.BUYER, 0, "es", "¿Puedo usar este aceite en una peluca sintética o solo en cabello natural?"),
            Say(
                Side.SELLER,
                2,
                "es",
                "Sí, puede usarlo en pelucas sintéticas: aplique solo dos gotas en las puntas y no use calor después.",
            ),
            Say(Side.BUYER, 20, "es", "¡Perfecto, muchas gracias!"),
            Say("resolve-buyer", 20.5),
        ),
    ),
    Story(
        "earbuds-arabic-prompts",
        "buyer-ae@example.com",
        "brightline",
        "pulse-buds-wireless-earbuds",
        FeedbackThread.Category.SUGGESTION,
        "اقتراح: رسائل صوتية باللغة العربية",
        days_ago=3,
        says=(
            Say(
                Side.BUYER,
                0,
                "ar",
                "السماعات ممتازة، لكن الرسائل الصوتية باللغة الإنجليزية فقط. هل يمكن إضافة اللغة العربية في "
                "تحديث قادم؟",
            ),
        ),
    ),
    Story(
        "matcha-bowl-praise",
        "buyer@example.com",
        "tsuchiya-craft",
        "handmade-matcha-bowl-chawan",
        FeedbackThread.Category.PRAISE,
        "A beautiful bowl",
        days_ago=20,
        order="DEMO-FB-1002",
        says=(
            Say(
                Side.BUYER, 0, "en", "The bowl arrived perfectly packed and the glaze is even nicer than in the photos."
            ),
            Say(Side.SELLER, 9, "en", "Thank you! Mr Tsuchiya was very happy to read your message."),
            Say("resolve-seller", 10),
        ),
    ),
    Story(
        "rain-jacket-delivery",
        "buyer-mx@example.com",
        "alpenkamm",
        "gipfel-3l-rain-jacket-men",
        FeedbackThread.Category.DELIVERY,
        "¿Cuándo llega a México?",
        days_ago=6,
        says=(
            Say(Side.BUYER, 0, "es", "¿Cuántos días tarda el envío a Guadalajara? Lo necesito para un viaje."),
            Say(
                Side.SELLER,
                60,
                "en",
                "Sorry for the late answer. From our warehouse in Germany it takes 6 to 9 days to Guadalajara.",
            ),
            Say(Side.BUYER, 62, "es", "Gracias. ¿Y si lo pido hoy, llega antes del día 20?"),
        ),
    ),
    Story(
        "silk-scarf-washing",
        "buyer-jp@example.com",
        "song-hong-artisans",
        "van-phuc-silk-scarf",
        FeedbackThread.Category.QUESTION,
        "洗濯方法を教えてください",
        days_ago=2,
        says=(
            Say(Side.BUYER, 0, "ja", "このシルクスカーフは手洗いできますか？"),
            Say(Side.SELLER, 4, "en", "Yes: hand wash in cold water with a mild soap, and dry flat in the shade."),
        ),
    ),
]

WATERPROOF_SUMMARY = {
    "en": "Waterproof glue: the wefts no longer loosen in water",
    "zh-hans": "防水胶：发帘遇水不再松脱",
    "es": "Pegamento impermeable: las tramas ya no se sueltan con el agua",
    "pt-br": "Cola à prova d'água: as telas não se soltam mais na água",
    "ru": "Водостойкий клей: трессы больше не ослабевают в воде",
    "ar": "غراء مقاوم للماء: لم تعد خصل الشعر ترتخي في الماء",
    "de": "Wasserfester Kleber: Die Tressen lösen sich im Wasser nicht mehr",
    "fr": "Colle imperméable : les tresses ne se détachent plus dans l'eau",
    "ja": "防水接着剤：水に濡れても毛束が抜けにくくなりました",
    "vi": "Keo chống nước: các lớp tóc không còn bung ra khi gặp nước",
}
WATERPROOF_BODY = {
    "en": "A buyer told us the wig shed hair after swimming. Every weft is now fixed with a waterproof, "
    "chlorine-resistant glue, tested through 30 wash and swim cycles.",
    "zh-hans": "一位买家告诉我们，假发游泳后掉发。现在每一片发帘都使用防水、耐氯的胶水固定，并经过30次清洗和游泳测试。",
    "es": "Una compradora nos contó que la peluca perdía pelo después de nadar. Ahora cada trama se fija con un "
    "pegamento impermeable y resistente al cloro, probado en 30 ciclos de lavado y natación.",
    "pt-br": "Uma compradora nos contou que a peruca soltava cabelo depois de nadar. Agora cada tela é fixada com "
    "uma cola à prova d'água e resistente ao cloro, testada em 30 ciclos de lavagem e natação.",
    "ru": "Покупательница рассказала, что парик терял волосы после плавания. Теперь каждая тресса закреплена "
    "водостойким клеем, устойчивым к хлору, и проверена 30 циклами стирки и плавания.",
    "ar": "أخبرتنا إحدى المشتريات أن الباروكة تساقط شعرها بعد السباحة. أصبحت كل خصلة الآن مثبتة بغراء مقاوم "
    "للماء والكلور، وقد اختبرناه خلال 30 دورة من الغسل والسباحة.",
    "de": "Eine Käuferin schrieb uns, dass die Perücke nach dem Schwimmen Haare verlor. Jede Tresse ist jetzt mit "
    "einem wasserfesten, chlorbeständigen Kleber befestigt, getestet in 30 Wasch- und Schwimmzyklen.",
    "fr": "Une acheteuse nous a signalé que la perruque perdait ses cheveux après la baignade. Chaque tresse est "
    "désormais fixée avec une colle imperméable et résistante au chlore, testée sur 30 cycles de lavage et de "
    "baignade.",
    "ja": "お客様から、泳いだ後にウィッグの毛が抜けたとのご連絡をいただきました。現在はすべての毛束を防水・耐塩素の"
    "接着剤で固定し、洗浄と水泳30回分のテストを行っています。",
    "vi": "Một khách hàng cho biết bộ tóc giả bị rụng tóc sau khi đi bơi. Giờ đây mỗi lớp tóc được cố định bằng keo "
    "chống nước, chịu được clo, đã thử qua 30 lần giặt và bơi.",
}
REVISION_AFTER_HOURS = 6 * 24 - 1  # published an hour before the producer's "it is ready"


def _photo() -> SimpleUploadedFile:
    """A drawn "photo": strands of hair on a towel (no file shipped with the code)."""
    image = Image.new("RGB", (640, 480), "#e8dcc8")
    draw = ImageDraw.Draw(image)
    for i in range(60):
        x = 40 + (i * 97) % 560
        y = 60 + (i * 53) % 360
        draw.arc((x, y, x + 120, y + 40 + i % 30), start=180 + i % 40, end=330, fill="#2b1d14", width=2)
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile("wet-wig.png", buffer.getvalue(), content_type="image/png")


def _seller_user(seller: Seller) -> User | None:
    return User.objects.filter(seller_membership__seller=seller).order_by("pk").first()


def _backdate(message: Message, when: datetime) -> None:
    Message.objects.filter(pk=message.pk).update(created_at=when, updated_at=when)


def _play(story: Story, now: datetime) -> FeedbackThread | None:
    buyer = User.objects.filter(email=story.buyer).first()
    seller = Seller.objects.filter(slug=story.seller).first()
    product = Product.objects.filter(slug=story.product, seller=seller).first()
    seller_user = _seller_user(seller) if seller is not None else None
    if buyer is None or product is None or seller_user is None:
        return None  # the demo catalogue or logins are not there: nothing to hang the story on
    if thread := FeedbackThread.objects.filter(buyer=buyer, client_key=key(story.name)).first():
        return thread
    start = (now - timedelta(days=story.days_ago)).replace(microsecond=0)
    line_id = None
    if story.order:
        variant = product.variants.order_by("position", "pk").first()
        if variant is None:
            return None
        line_id = demo_order_line(buyer, variant, number=story.order).pk
    first, *rest = story.says
    thread = open_thread(
        buyer=buyer,
        subject=story.subject,
        category=story.category,
        body=first.text,
        language=first.language,
        product_id=None if line_id else product.pk,
        order_line_id=line_id,
        photos=[_photo()] if first.photo else [],
        client_key=key(story.name),
        now=start,
    )
    _backdate(thread.messages.get(), start)
    for say in rest:
        when = start + timedelta(hours=say.hours)
        if say.side.startswith("resolve-"):
            side = say.side.removeprefix("resolve-")
            resolve_thread(thread, actor=buyer if side == Side.BUYER else seller_user, side=side, now=when)
            continue
        author = buyer if say.side == Side.BUYER else seller_user
        message = post_message(
            thread,
            author=author,
            side=say.side,
            body=say.text,
            language=say.language,
            photos=[_photo()] if say.photo else [],
            client_key=key(f"{story.name}:{say.hours}"),
            now=when,
        )
        _backdate(message, when)
    FeedbackThread.objects.filter(pk=thread.pk).update(created_at=start)
    return thread


def _quiet(thread_ids: list[int]) -> None:
    """Demo conversations are already e-mailed and read up to their last message."""
    last = dict(
        Message.objects.filter(thread_id__in=thread_ids)
        .values("thread_id")
        .annotate(last=Max("pk"))
        .values_list("thread_id", "last")
    )
    for thread_id, upto in last.items():
        FeedbackThread.objects.filter(pk=thread_id).update(
            buyer_last_read_id=upto,
            seller_last_read_id=upto,
            buyer_notified_upto_id=upto,
            seller_notified_upto_id=upto,
            buyer_pending_since=None,
            buyer_notify_at=None,
            seller_pending_since=None,
            seller_notify_at=None,
        )


def _waterproof_revision(thread: FeedbackThread) -> ProductRevision | None:
    author = _seller_user(thread.seller)
    if author is None:
        return None
    published = (thread.created_at + timedelta(hours=REVISION_AFTER_HOURS)).replace(microsecond=0)
    revision = publish_revision(
        seller_id=thread.seller_id,
        author=author,
        product_id=thread.product_id,
        summaries=WATERPROOF_SUMMARY,
        bodies=WATERPROOF_BODY,
        thread_ids=[thread.pk],
        client_key=key("waterproof-glue"),
        now=published,
    )
    RevisionLink.objects.filter(revision=revision, notified_at=None).update(notified_at=published)
    ProductRevision.objects.filter(pk=revision.pk).update(created_at=published)
    return revision


def seed(stdout: IO[str] | None = None) -> None:
    now = timezone.now()
    created = [t for t in (_play_new(story, now) for story in STORIES) if t is not None]
    _quiet([t.pk for t in created])
    wig = FeedbackThread.objects.filter(client_key=key("wig-sheds-when-wet")).select_related("seller").first()
    revision = _waterproof_revision(wig) if wig is not None else None
    for seller_id in {
        t.seller_id for t in FeedbackThread.objects.filter(client_key__in=[key(s.name) for s in STORIES])
    }:
        set_response_time(seller_id, median_minutes=compute_response_stats(seller_id).median_minutes)
    if stdout is not None:
        total = FeedbackThread.objects.filter(client_key__in=[key(s.name) for s in STORIES]).count()
        stdout.write(
            f"feedback threads: {total} ({len(created)} created now), "
            f"revision: {'waterproof glue' if revision else 'none'}"
        )


def _play_new(story: Story, now: datetime) -> FeedbackThread | None:
    """Play a story whose thread does not exist yet; None when it exists or cannot be told."""
    buyer = User.objects.filter(email=story.buyer).first()
    if buyer is None or FeedbackThread.objects.filter(buyer=buyer, client_key=key(story.name)).exists():
        return None
    return _play(story, now)
