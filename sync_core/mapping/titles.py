"""Title normalisation for the opt-in title matching of supplier and store variants (pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Arabic code points that Persian text often carries instead of the Persian letters, and digit sets.
_LETTERS = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا", "ٱ": "ا", "ؤ": "و"}
)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_NOISE = re.compile(r"[\u064b-\u065f\u0670\u200c\u200d\u0640]")  # diacritics, ZWNJ/ZWJ, tatweel
_SPACE = re.compile(r"[\s\-_/|,،]+")


def normalise(text: str) -> str:
    """Case-, space-, letter-variant- and digit-insensitive form of ``text``."""
    text = unicodedata.normalize("NFKC", text).translate(_LETTERS).translate(_DIGITS)
    text = _NOISE.sub("", text).casefold()
    return _SPACE.sub(" ", text).strip()


def title_key(product_title: str, attribute_values: Iterable[str]) -> str:
    """Matching key: the normalised title plus the sorted normalised attribute values."""
    values = sorted(normalise(v) for v in attribute_values if v and v.strip())
    return " | ".join([normalise(product_title), *values])
