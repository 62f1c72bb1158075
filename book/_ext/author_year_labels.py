"""Bibliography labels in author-year form, as the citations in the text: "[Ding et al., 2024]".

sphinxcontrib-bibtex writes in-text citations author-year (``bibtex_reference_style``) but labels
the bibliography with the formatting style's labels, numbers for ``plain``. This registers the
pybtex style ``author_year``: ``plain``'s entries with labels "Last, year", "Last and Last, year"
or "Last et al., year", and a letter after the year where two entries would share a label.
"""

from __future__ import annotations

import codecs
from collections import Counter

import latexcodec  # noqa: F401  (registers the "ulatex" codec: Cand\\`es -> Candès)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person) -> str:
    return codecs.decode(" ".join(person.last_names), "ulatex").replace("{", "").replace("}", "")


def _label(entry) -> str:
    names = [_last_name(person) for person in entry.persons.get("author", [])]
    if len(names) > 2:
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names) or entry.key
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [_label(entry) for entry in entries]
        shared = {label for label, count in Counter(labels).items() if count > 1}
        seen: Counter = Counter()
        for label in labels:
            if label in shared:
                seen[label] += 1
                label = f"{label}{chr(ord('a') + seen[label] - 1)}"
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
