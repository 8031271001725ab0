"""Forms of the authoring pages (/agent/kb/). They parse input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from knowledgebase.models import ArticleStatus, ArticleVisibility, Category


def _style(form: forms.Form) -> None:
    """The workspace's widget classes (input, select, textarea)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            css = "select"
        elif isinstance(widget, forms.Textarea):
            css = "textarea"
        elif isinstance(widget, (forms.CheckboxInput, forms.FileInput)):
            continue
        else:
            css = "input"
        existing = widget.attrs.get("class", "")
        if css not in existing.split():
            widget.attrs["class"] = f"{css} {existing}".strip()


def category_choices() -> list[tuple[str, str]]:
    return [(str(category.pk), str(category)) for category in Category.objects.order_by("position", "slug")]


def split_tags(value: str) -> list[str]:
    return [tag.strip() for tag in (value or "").replace("，", ",").split(",") if tag.strip()]


class ArticleSettingsFields(forms.Form):
    """What all translations of an article share."""

    category = forms.ChoiceField(label=_("Category"))
    visibility = forms.ChoiceField(label=_("Visibility"), choices=ArticleVisibility.choices)
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500,
                           help_text=_("Separate tags with commas."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()  # type: ignore[attr-defined]

    def clean_category(self) -> Category:
        try:
            return Category.objects.get(pk=int(self.cleaned_data["category"]))
        except (Category.DoesNotExist, ValueError, TypeError):
            raise forms.ValidationError(_("Choose a category.")) from None

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data.get("tags", ""))


class TranslationFields(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(label=_("Summary"), max_length=300, required=False,
                              help_text=_("One line shown in lists, search results and to search engines."))
    body_markdown = forms.CharField(label=_("Body (Markdown)"), required=False, max_length=200_000,
                                    widget=forms.Textarea(attrs={"rows": 22, "class": "textarea mono"}))


class ArticleCreateForm(ArticleSettingsFields, TranslationFields):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    field_order = ["language", "title", "summary", "category", "visibility", "tags", "body_markdown"]


class TranslationEditForm(ArticleSettingsFields, TranslationFields):
    note = forms.CharField(label=_("What changed (optional)"), max_length=300, required=False)
    translator_reviewed = forms.BooleanField(
        label=_("I have reviewed this machine-converted translation"), required=False,
    )
    field_order = ["title", "summary", "category", "visibility", "tags", "body_markdown", "note",
                   "translator_reviewed"]


class TranslationAddForm(TranslationFields):
    pass


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ArticleStatus.choices)


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File or image"))


class RelatedAddForm(forms.Form):
    article = forms.CharField(label=_("Related article"), max_length=100,
                              help_text=_("The article's key or number."))
