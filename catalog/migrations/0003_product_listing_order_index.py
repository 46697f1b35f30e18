# The storefront lists active products newest first: ORDER BY published_at DESC NULLS LAST, id DESC
# (catalog.selectors.filter_products). Without an index in that order PostgreSQL sorts every active
# product, whole rows with all their translations, to show 24. SQLite cannot index NULLS LAST.

from django.db import migrations, models
from django.db.models import F

from catalog.migration_operations import PostgresOnly


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_search_documents'),
    ]

    operations = [
        PostgresOnly(
            migrations.AddIndex(
                model_name='product',
                index=models.Index(
                    F('published_at').desc(nulls_last=True),
                    F('id').desc(),
                    condition=models.Q(status='active'),
                    name='product_active_newest',
                ),
            )
        ),
    ]
