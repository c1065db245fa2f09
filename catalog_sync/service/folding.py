"""Text as the products search compares it: ``fold`` (no case, no accents, one space between words), applied
to the products' names, codes, descriptions and categories when they are read, and to the parameters of a
search."""

from __future__ import annotations

import unicodedata

_CONTROLS = dict.fromkeys(range(32), " ")  # none is left after folding: "\n" and "\x00" separate fields


class _Marks:
    """The code points with a combining class: dropped after NFKD (``ç`` is ``c`` and U+0327). Built on first
    use (0.15 s): only processes that load products pay for it."""

    table: dict[int, None] | None = None

    @classmethod
    def get(cls) -> dict[int, None]:
        if cls.table is None:
            cls.table = {cp: None for cp in range(0x110000) if unicodedata.combining(chr(cp))}
        return cls.table


def fold(text: str) -> str:
    """``text`` compared as the search compares: no case, no accents, one space between words (a control
    character is one too). ``fold("MANUTENÇÃO  Elétrica") == fold("manutencao eletrica") == "manutencao eletrica"``."""
    if text.isascii():
        folded = text.lower()  # casefold equals lower on ASCII
    else:
        folded = unicodedata.normalize("NFKD", text.casefold()).translate(_Marks.get())
    if not folded.isprintable():
        folded = folded.translate(_CONTROLS)
    return " ".join(folded.split())
