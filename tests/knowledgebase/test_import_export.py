"""`manage.py import_articles DIR` and `export_articles DIR`: Markdown files with front matter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from knowledgebase.demo import DEMO_ARTICLES_DIR, seed_knowledge_base
from knowledgebase.models import Article, ArticleRevision, ArticleStatus, ArticleTranslation, Category

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


@pytest.fixture
def folder(tmp_path) -> Path:
    target = tmp_path / "articles"
    shutil.copytree(FIXTURES, target)
    return target


def _import(folder: Path, capsys) -> tuple[int, str, str]:
    try:
        call_command("import_articles", str(folder))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_creates_categories_articles_translations_and_links(folder, capsys):
    code, out, _err = _import(folder, capsys)

    assert code == 0
    assert "3 categories; articles: 3 created, 0 updated, 0 unchanged, 0 failed." in out
    refunds = Category.objects.get(slug="refunds")
    assert (refunds.parent.slug, refunds.names["zh-hans"]) == ("billing", "退款")
    assert Category.objects.get(slug="playbooks").is_internal is True

    article = Article.objects.get(key="refund-policy")
    assert (article.category, article.visibility) == (refunds, "public")
    # One article, one set of tags: every language's file brings its own words.
    assert article.tags == ["refund", "billing", "退款"]
    english = article.translations.get(language="en")
    assert (english.title, english.slug, english.status) == (
        "How to request a refund", "how-to-request-a-refund", ArticleStatus.PUBLISHED)
    assert english.published_at is not None
    assert "<strong>Billing → Invoices</strong>" in english.body_html and "<td>30</td>" in english.body_html
    assert english.search_vector is not None
    chinese = article.translations.get(language="zh-hans")
    assert (chinese.slug, chinese.status, chinese.summary) == ("如何申请退款", ArticleStatus.DRAFT, "付款 30 天内可申请退款。")
    assert [related.key for related in article.related.all()] == ["refund-playbook"]


def test_reimporting_the_same_folder_changes_nothing(folder, capsys):
    _import(folder, capsys)
    revisions = ArticleRevision.objects.count()

    code, out, _err = _import(folder, capsys)

    assert code == 0
    assert "articles: 0 created, 0 updated, 3 unchanged, 0 failed." in out
    assert ArticleRevision.objects.count() == revisions
    assert ArticleTranslation.objects.count() == 3


def test_a_changed_file_updates_its_translation_with_one_revision(folder, capsys):
    _import(folder, capsys)
    path = folder / "zh-hans" / "refund-policy.md"
    path.write_text(path.read_text(encoding="utf-8").replace("status: draft", "status: published")
                    .replace("选择“申请退款”", "选择“退款”"), encoding="utf-8")

    code, out, _err = _import(folder, capsys)

    assert code == 0 and "0 created, 1 updated, 2 unchanged" in out
    chinese = ArticleTranslation.objects.get(article__key="refund-policy", language="zh-hans")
    assert chinese.status == ArticleStatus.PUBLISHED and "选择“退款”" in chinese.body_markdown
    assert list(chinese.revisions.order_by("number").values_list("note", flat=True)) == [
        "Imported", "Imported", "Status changed from Draft to Published"]


def test_bad_files_are_named_and_skipped_and_the_others_imported(folder, capsys):
    (folder / "en" / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody", encoding="utf-8")
    (folder / "en" / "no-category.md").write_text("---\narticle: lost\ntitle: Lost\n---\nBody", encoding="utf-8")
    (folder / "en" / "bad-status.md").write_text(
        "---\narticle: odd\ntitle: Odd\ncategory: billing\nstatus: live\n---\nBody", encoding="utf-8")
    (folder / "en" / "unknown-category.md").write_text(
        "---\narticle: nowhere\ntitle: Nowhere\ncategory: nowhere\n---\nBody", encoding="utf-8")

    code, out, err = _import(folder, capsys)

    assert code == 1
    assert "3 created, 0 updated, 0 unchanged, 4 failed." in out
    assert "broken.md: front matter is not valid YAML" in err
    assert "no-category.md: front matter lacks category" in err
    assert "bad-status.md: status 'live' is not one of draft, in_review, published, archived" in err
    assert "unknown-category.md: unknown category 'nowhere'" in err
    assert set(Article.objects.values_list("key", flat=True)) == {"refund-policy", "refund-playbook"}


def test_export_writes_files_that_import_back_unchanged(folder, tmp_path, capsys):
    _import(folder, capsys)
    exported = tmp_path / "exported"

    call_command("export_articles", str(exported))

    text = (exported / "zh-hans" / "refund-policy.md").read_text(encoding="utf-8")
    assert text.startswith("---\narticle: refund-policy\ntitle: 如何申请退款\ncategory: refunds\n")
    assert "tags: [refund, billing, 退款]\nvisibility: public\nstatus: draft\n" in text
    assert text.endswith("---\n打开**账单 → 发票**，选择“申请退款”。\n")
    assert (exported / "_categories.yml").exists()
    code, out, _err = _import(exported, capsys)
    assert code == 0 and "0 created, 0 updated, 3 unchanged, 0 failed." in out


def test_export_then_import_into_an_empty_database_recreates_the_articles(folder, tmp_path, capsys):
    _import(folder, capsys)
    call_command("export_articles", str(tmp_path / "exported"))
    ArticleTranslation.objects.all().delete()
    Article.objects.all().delete()

    code, out, _err = _import(tmp_path / "exported", capsys)

    assert code == 0 and "3 created" in out
    playbook = Article.objects.get(key="refund-playbook")
    assert (playbook.visibility, playbook.category.slug) == ("internal", "playbooks")
    assert [related.key for related in playbook.related.all()] == ["refund-policy"]


def test_language_may_come_from_the_front_matter(tmp_path, capsys):
    Category.objects.create(slug="general", names={"en": "General"})
    (tmp_path / "hello.md").write_text(
        "---\narticle: hello\ntitle: 您好\ncategory: general\nlanguage: zh-hans\n---\n正文", encoding="utf-8")
    code, _out, _err = _import(tmp_path, capsys)
    assert code == 0
    assert ArticleTranslation.objects.get().language == "zh-hans"


def test_demo_corpus_imports_cleanly_and_seeding_twice_adds_nothing():
    first = seed_knowledge_base()
    assert first.errors == [] and first.created >= 90
    published = ArticleTranslation.objects.filter(status=ArticleStatus.PUBLISHED)
    assert {language: published.filter(language=language).count() >= 30
            for language in ("en", "zh-hans", "zh-hant")} == {"en": True, "zh-hans": True, "zh-hant": True}

    second = seed_knowledge_base()
    assert (second.created, second.updated, second.errors) == (0, 0, [])
    assert DEMO_ARTICLES_DIR.is_dir()
