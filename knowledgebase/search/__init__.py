"""Knowledge-base search: Chinese-aware indexing (`index_translations`) and ranked search
(`kb_search`). Every read goes through `knowledgebase.selectors.readable_translations`."""

from knowledgebase.search.indexing import index_translations

__all__ = ["index_translations"]
