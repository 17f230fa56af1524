"""The seed's text clean-up (``remove_noise`` and ``simplify_tokens``).

Deliberately conservative: it repairs what the competition data is known to contain (literal
``\\n`` sequences, ``<br>``, spaced-out speaker tags) and never touches words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from dialsum_core.data import KNOWN_TAGS, Example, speaker_tag

_SPACED_TAG_RE = re.compile(r"#\s*([A-Za-z]+)\s*(\d*)\s*#")
_LITERAL_NEWLINE_RE = re.compile(r"(\\n|<br\s*/?>)", re.IGNORECASE)
_REPEAT_RE = re.compile(r"([ㅋㅎㅠㅜ!?~])\1{2,}")
#: An ellipsis is punctuation the references use too: longer runs of dots become one, never "..".
_DOTS_RE = re.compile(r"\.{4,}")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
#: ``phonenumber`` -> ``PhoneNumber``: the spelling of each known tag without a number.
_CANONICAL = {t.strip("#").lower(): t.strip("#") for t in KNOWN_TAGS if not t[-2].isdigit()}


def remove_noise(text: str) -> str:
    """Literal ``\\n`` and ``<br>`` become line breaks; runs of ㅋ/ㅎ/ㅠ/ㅜ/!/?/~ shrink to two and of
    dots to an ellipsis (``...``, kept as it is); spaces squeeze."""
    text = _LITERAL_NEWLINE_RE.sub("\n", text)
    text = _DOTS_RE.sub("...", _REPEAT_RE.sub(r"\1\1", text))
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def simplify_tokens(text: str) -> str:
    """Normalise spaced or mis-cased tags: ``# person 1 #`` -> ``#Person1#``."""

    def fix(m: re.Match[str]) -> str:
        word, num = m.group(1), m.group(2)
        if word.lower() == "person" and num:
            return speaker_tag(num)
        return f"#{_CANONICAL.get(word.lower(), word)}{num}#"

    return _SPACED_TAG_RE.sub(fix, text)


def preprocess(examples: Iterable[Example], *, noise: bool, tokens: bool) -> list[Example]:
    def clean(text: str) -> str:
        if noise:
            text = remove_noise(text)
        if tokens:
            text = simplify_tokens(text)
        return text

    return [
        attrs.evolve(e, dialogue=clean(e.dialogue), summaries=tuple(clean(s) for s in e.summaries)) for e in examples
    ]
