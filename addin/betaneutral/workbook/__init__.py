"""The BetaNeutral workbook: template builder and safe cell writes (openpyxl)."""

from betaneutral.workbook.cells import write_text
from betaneutral.workbook.template import (
    SHEET_NAMES,
    TICKET_COLUMNS,
    UDF_NAMES,
    ContractRow,
    FormulaCell,
    build_workbook,
    catalogue_rows,
    defined_names,
    formula_cells,
    write_contracts_sheet,
    write_template,
)

__all__ = [
    "SHEET_NAMES",
    "TICKET_COLUMNS",
    "UDF_NAMES",
    "ContractRow",
    "FormulaCell",
    "build_workbook",
    "catalogue_rows",
    "defined_names",
    "formula_cells",
    "write_contracts_sheet",
    "write_template",
    "write_text",
]
