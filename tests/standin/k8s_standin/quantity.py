"""resource.Quantity: parsing, exact arithmetic and the canonical string form.

As k8s.io/apimachinery/pkg/api/resource (kubernetes v1.36, quantity.go): a value keeps
the format it was written in (binary suffixes Ki..Ei, decimal ones n..E, or an
exponent), sums keep the left operand's format unless it is zero, and String() prints
the canonical form: a binary value below 1024 or not whole is printed as decimal; a
decimal value takes the largest suffix (a power of 1000) that leaves its mantissa whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_PATTERN = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {e: s for s, e in _DECIMAL.items()}
_BINARY_SUFFIX = {e: s for s, e in _BINARY.items()}
#: The message of a value that is no quantity (quantity.go's ErrFormatWrong).
FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class Invalid(ValueError):
    pass


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    format: str = "DecimalSI"  # BinarySI, DecimalSI or DecimalExponent

    def __add__(self, other: Quantity) -> Quantity:
        # Quantity.Add: a zero takes the other operand's format.
        kept = other.format if self.value == 0 else self.format
        return Quantity(self.value + other.value, kept)

    def __sub__(self, other: Quantity) -> Quantity:
        kept = other.format if self.value == 0 else self.format
        return Quantity(self.value - other.value, kept)

    def __str__(self) -> str:
        return canonical(self)


ZERO = Quantity(Fraction(0))


def parse(text: object) -> Quantity:
    if isinstance(text, bool):
        raise Invalid(FORMAT_WRONG)
    if isinstance(text, (int, float)):
        return Quantity(Fraction(str(text)))
    if not isinstance(text, str):
        raise Invalid(FORMAT_WRONG)
    found = _PATTERN.match(text.strip())
    if found is None:
        raise Invalid(FORMAT_WRONG)
    number, suffix = found.groups()
    try:
        mantissa = Fraction(number)
    except (ValueError, ZeroDivisionError):
        raise Invalid(FORMAT_WRONG) from None
    if suffix in _BINARY:
        return Quantity(mantissa * 1024 ** _BINARY[suffix], "BinarySI")
    if suffix in _DECIMAL:
        return Quantity(mantissa * Fraction(10) ** _DECIMAL[suffix], "DecimalSI")
    if suffix[:1] in ("e", "E"):
        try:
            exponent = int(suffix[1:])
        except ValueError:
            raise Invalid(FORMAT_WRONG) from None
        return Quantity(mantissa * Fraction(10) ** exponent, "DecimalExponent")
    raise Invalid(FORMAT_WRONG)


def _decimal(value: Fraction, exponent_form: bool) -> str:
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    # The value in nano units, rounded up as Quantity rounds to its smallest scale.
    nanos = -((-value * 10**9) // 1)
    exponent = -9
    while nanos % 10 == 0:
        nanos //= 10
        exponent += 1
    # Down to a multiple of 3 (a suffix), growing the mantissa to stay whole.
    while exponent % 3:
        nanos *= 10
        exponent -= 1
    exponent = min(exponent, 18)
    if exponent_form:
        return f"{sign}{nanos}" + (f"e{exponent}" if exponent else "")
    while exponent not in _DECIMAL_SUFFIX:
        nanos *= 1000
        exponent -= 3
    return f"{sign}{nanos}{_DECIMAL_SUFFIX[exponent]}"


def canonical(q: Quantity) -> str:
    value = q.value
    if q.format == "BinarySI" and abs(value) >= 1024 and value.denominator == 1:
        whole, power = int(value), 0
        while power < 6 and whole % 1024 == 0:
            whole //= 1024
            power += 1
        return f"{whole}{_BINARY_SUFFIX.get(power, '')}"
    return _decimal(value, q.format == "DecimalExponent")


def normalize(text: object) -> str:
    """A quantity as the API server writes it back: its canonical form."""
    return canonical(parse(text))
