"""Tooling that builds the book around the package: the equation index and the bilingual glossary.

Not part of the taught package ``dlbook``: nothing in it imports these.  ``python -m booktools.equations``
lists the equation labels and their problems.
"""
