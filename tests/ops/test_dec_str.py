"""dec_str (every decimal the API writes) equals Alpaca's plain form, format(normalize(), "f"),
for every decimal a column can hold (up to 24 digits; normalize() itself rounds beyond the
context's 28): its faster path must never change an answer."""
from decimal import Decimal

from hypothesis import given, strategies as st

from core.api import dec_str


@given(st.integers(min_value=-10**24 + 1, max_value=10**24 - 1), st.integers(min_value=-15, max_value=12))
def test_dec_str_is_the_normalized_plain_form(digits, exponent):
    value = Decimal(digits).scaleb(exponent)
    assert dec_str(value) == (format(value.normalize(), "f") if value else "0")


def test_dec_str_examples():
    cases = {"1.000000000": "1", "0.50": "0.5", "150.12": "150.12", "-0.00": "0", "1E+3": "1000",
             "0.000000100": "0.0000001", "1000.00": "1000", "-5.000": "-5"}
    assert {k: dec_str(Decimal(k)) for k in cases} == cases
    assert dec_str(None) is None
