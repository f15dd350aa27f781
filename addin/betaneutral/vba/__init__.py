"""The VBA project of the macro-enabled workbook, written from source by code.

:mod:`~betaneutral.vba.ovba` (compression, ``dir`` records),
:mod:`~betaneutral.vba.cfb` (compound file writer),
:mod:`~betaneutral.vba.project` (the project's streams),
:mod:`~betaneutral.vba.sources` (the modules: xlwings, the function wrappers,
the workflow macros) and :mod:`~betaneutral.vba.buttons` (the Start sheet's
buttons).
"""
