"""`common.logs.printable`: strings read from ZooKeeper are shown as inert text.

Anyone who can write under the election root can put anything in a candidate's node
data; whatever a log line or `common.status` shows of it must be one line, carry no
terminal control (ANSI escape sequences, bidirectional overrides, line separators),
and stay short however big the data is. Fuzzed with hypothesis.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.logs import printable

_INERT = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Everything: surrogates, controls, separators, astral characters.
ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=300)
LIMITS = st.integers(min_value=1, max_value=120)


def _shown_safely(text: str) -> bool:
    return all(unicodedata.category(c) not in _INERT for c in text) and text.isprintable()


def test_what_python_calls_printable_is_no_control():
    """printable() escapes what str.isprintable() refuses: that covers every category
    a terminal could act on."""
    for code in range(0x110000):
        char = chr(code)
        if char.isprintable():
            assert unicodedata.category(char) not in _INERT, hex(code)


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT, LIMITS)
def test_printable_output_is_one_short_line_of_inert_characters(text, limit):
    shown = printable(text, limit)
    assert len(shown) <= limit
    assert _shown_safely(shown)
    assert "\n" not in shown and "\x1b" not in shown and "\r" not in shown


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT, LIMITS)
def test_printable_is_idempotent(text, limit):
    """A value escaped where it was read is shown unchanged where it is printed."""
    once = printable(text, limit)
    assert printable(once, limit) == once


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(categories=["L", "N", "P", "S"], include_characters=" "), max_size=64
    )
)
def test_printable_leaves_plain_short_text_alone(text):
    assert printable(text, 64) == text


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT, LIMITS)
def test_printable_cuts_only_at_a_whole_escape_and_marks_the_cut(text, limit):
    whole = printable(text, None)
    shown = printable(text, limit)
    if len(whole) <= limit:
        assert shown == whole
    else:
        assert shown.endswith("…")
        assert whole.startswith(shown[:-1])
        # the cut never splits an escape: the kept part is a prefix of whole escapes
        assert printable(text[: len(shown)], None).startswith(shown[:-1]) or shown == "…"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("service1", "service1"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("tab\there", "tab\\there"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("abc\u202edcba", "abc\\u202edcba"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("line\u2028sep", "line\\u2028sep"),
        ("back\\slash", "back\\slash"),
        ("héllo wörld ✓", "héllo wörld ✓"),
    ],
)
def test_printable_examples(raw, shown):
    assert printable(raw) == shown


def test_printable_cuts_a_megabyte_to_the_limit_fast():
    huge = "\x1b[2J" + "A" * (1 << 20)
    shown = printable(huge, 64)
    assert len(shown) == 64 and shown.startswith("\\x1b[2JAAA") and shown.endswith("…")


def test_printable_never_splits_an_escape():
    assert printable("abcd\x1b", 6) == "abcd…"  # "\x1b" needs 4: it does not fit whole
    assert printable("ab\x1b", 6) == "ab\\x1b"  # the last character fits exactly


def test_printable_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="limit"):
        printable("x", 0)
