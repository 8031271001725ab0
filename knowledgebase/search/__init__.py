"""Knowledge-base search: Chinese-aware indexing (`index_translations`) and ranked search
(`kb_search`). Every read goes through `knowledgebase.selectors.readable_translations`."""

from knowledgebase.search.indexing import index_translations
from knowledgebase.search.query import SearchHit, SearchResults, kb_search

__all__ = ["SearchHit", "SearchResults", "index_translations", "kb_search"]
