"""Translated fields of the orders app (django-modeltranslation, STYLE.md 15)."""

from modeltranslation.translator import TranslationOptions, register

from .feedback_models import ProductRevision


@register(ProductRevision)
class ProductRevisionTranslationOptions(TranslationOptions):
    fields = ("summary", "body")
