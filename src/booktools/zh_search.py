"""A search for the Chinese edition that finds Chinese words as a reader types them.

Sphinx's Chinese search (``language = "zh_CN"``) splits the pages' text into words with jieba when it builds the
index, but splits the reader's query only at spaces and punctuation: Chinese is written without spaces, so a query
such as 循环神经网络 stays one "word" and finds nothing unless jieba happened to keep exactly that word.  This
extension (listed in the Chinese edition's ``extra_extensions`` by ``scripts/build_book.py``) mends both ends:

* the index: jieba is given every Chinese term of the glossary as a word (``html_search_options = {"dict": …}``,
  a file :func:`write_jieba_dict` writes), so each term is indexed whole, beside its parts;
* the query: :data:`SPLITTER` cuts each run of Chinese characters into the longest words the index holds, left
  to right (forward maximum matching), so any phrase made of indexed words is found.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: ``splitQuery`` for searchtools.js: Latin words as Sphinx splits them; a Chinese run cut into the longest words
#: of the loaded index (``Search._index``), one character at a time where none matches (single characters are not
#: indexed, so they drop out of the query rather than make it fail).
SPLITTER = r"""
function splitQuery(query) {
  const index = (typeof Search !== "undefined" && Search._index) || {};
  const known = (w) => (index.terms && w in index.terms) || (index.titleterms && w in index.titleterms);
  const words = [];
  for (const piece of query.split(/[^\p{L}\p{N}_]+/u).filter(Boolean)) {
    for (const run of piece.split(/(\p{Script=Han}+)/u).filter(Boolean)) {
      if (!/\p{Script=Han}/u.test(run)) { words.push(run); continue; }
      for (let i = 0; i < run.length;) {
        let j = run.length;
        while (j > i + 1 && !known(run.slice(i, j))) j--;
        if (j > i + 1) words.push(run.slice(i, j));
        i = j;
      }
    }
  }
  return words;
}
"""

CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


def write_jieba_dict(glossary: Path, out: Path) -> Path:
    """A jieba user dictionary (one ``word frequency`` per line) of every Chinese run of two or more characters
    in the glossary's ``zh`` terms; returns ``out``."""
    import yaml

    entries = yaml.safe_load(Path(glossary).read_text(encoding="utf-8"))
    words = sorted({run for e in entries for run in CJK_RUN.findall(str(e.get("zh", "")))})
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{w} 100000\n" for w in words)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out


def setup(app: Any) -> dict[str, Any]:
    from sphinx.search import languages
    from sphinx.search.zh import SearchChinese

    class SearchChineseWords(SearchChinese):
        js_splitter_code = SPLITTER

    languages["zh"] = SearchChineseWords
    return {"parallel_read_safe": True, "parallel_write_safe": True}
