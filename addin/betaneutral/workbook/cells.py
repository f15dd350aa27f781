"""The one way BetaNeutral writes text into a worksheet cell.

openpyxl turns a string that starts with ``=`` into a formula and a string equal
to an error code (``"#N/A"``, ``"#DIV/0!"``, ...) into an error cell when it is
assigned to ``cell.value``. :func:`write_text` neutralises the text first and
then forces the cell type back to a string, which openpyxl writes as an inline
string (``<c t="inlineStr">``), never as ``<f>``.
"""

from __future__ import annotations

from openpyxl.cell.cell import Cell

from betaneutral.safetext import neutralise_text

__all__ = ["write_text"]


def write_text(cell: Cell, value: str) -> None:
    """Write ``value`` into ``cell`` as plain text, never as a formula or an error.

    Parameters
    ----------
    cell : openpyxl.cell.cell.Cell
        Target cell.
    value : str
        Text to write; it is passed through
        :func:`betaneutral.safetext.neutralise_text`.

    Raises
    ------
    InputTypeError
        If ``value`` is not a ``str``.
    """
    text = neutralise_text(value)
    cell.value = text
    cell.data_type = "s"
