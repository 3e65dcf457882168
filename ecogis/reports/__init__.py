"""Deliverables a bureau hands over: tables (CSV, Excel) and the 用地预审 report (HTML, Word, PDF).

One module per output: :mod:`~ecogis.reports.model` (the table model every table writer
shares: columns with Chinese headers, units and decimals), :mod:`~ecogis.reports.csv` and
:mod:`~ecogis.reports.xlsx` (writers), :mod:`~ecogis.reports.tables` (the tables of each
command), :mod:`~ecogis.reports.review` (the 用地预审 / 合规性审查 document of a siting check),
:mod:`~ecogis.reports.figure` (its static map), :mod:`~ecogis.reports.html`,
:mod:`~ecogis.reports.docx` and :mod:`~ecogis.reports.pdf` (renderers of that document).
"""
