from modeltranslation.translator import TranslationOptions, register

from .models import Category, Product, Seller


@register(Seller)
class SellerTranslationOptions(TranslationOptions):
    fields = ("tagline", "description")


@register(Category)
class CategoryTranslationOptions(TranslationOptions):
    fields = ("name",)


@register(Product)
class ProductTranslationOptions(TranslationOptions):
    fields = ("name", "short_description", "description", "material_care")
