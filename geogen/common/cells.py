"""Spreadsheet-safe cells: text that a spreadsheet program would run as a formula is defused."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Render ``value`` for CSV/Markdown; strings starting with = + - @ TAB CR get a leading '.

    Numbers are written with repr-precision and are never prefixed (a negative number is data,
    not a formula), so numeric columns still sort as numbers.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
