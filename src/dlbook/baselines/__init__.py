"""Classical baselines every result of Part IV is read against.

* :mod:`dlbook.baselines.ngram` — add-k unigram and interpolated Kneser–Ney n-gram language models
  over token ids (nats per token);
* :mod:`dlbook.baselines.sentiment` — TF-IDF + logistic regression and naive Bayes on review texts
  (scikit-learn, imported only when a model is fitted);
* :mod:`dlbook.baselines.ladder` — the n-gram ladder on the news text and the shipped table
  (``python -m dlbook.baselines.ladder --out PATH``).
"""

from dlbook.baselines.ngram import AddKUnigram, KneserNey, NGramLM
from dlbook.baselines.sentiment import SentimentBaseline, naive_bayes, tfidf_logistic_regression

__all__ = ["AddKUnigram", "KneserNey", "NGramLM", "SentimentBaseline", "naive_bayes", "tfidf_logistic_regression"]
