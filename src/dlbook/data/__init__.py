"""Data sets that need no download, and batching."""

from dlbook.data.batching import iterate_minibatches, num_batches
from dlbook.data.bpe import BPETokenizer
from dlbook.data.chinese import NewsSplit, ReviewSplit, load_news, load_news_paragraphs, load_reviews
from dlbook.data.dates import DatePairs, DateTask, Vocab, format_date, load_dates, pad_batch, parse_date
from dlbook.data.digits import DigitsSplit, load_digits
from dlbook.data.text import (
    TextCorpus,
    load_python_help,
    load_python_help_text,
    random_windows,
    sequential_windows,
    unigram_loss,
)
from dlbook.data.tokenizers import CharTokenizer
from dlbook.data.toy import make_moons, make_spirals

__all__ = [
    "CharTokenizer", "iterate_minibatches", "num_batches", "load_digits", "DigitsSplit", "make_moons", "make_spirals",
    "TextCorpus", "load_python_help", "load_python_help_text", "random_windows", "sequential_windows", "unigram_loss",
    "BPETokenizer", "NewsSplit", "ReviewSplit", "load_news", "load_news_paragraphs", "load_reviews",
    "DatePairs", "DateTask", "Vocab", "format_date", "load_dates", "pad_batch", "parse_date",
]
