"""A read-only table of a pandas DataFrame: the Study and Test hypotheses widgets' results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem


def results_table(*, select_rows: bool = False, min_height: int = 0) -> QTableWidget:
    """An empty, read-only table (``select_rows``: one whole row is selected at a time)."""
    table = QTableWidget(0, 0)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    if select_rows:
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.SingleSelection)
    if min_height:
        table.setMinimumHeight(min_height)
    return table


def show_frame(table: QTableWidget, frame, columns: Sequence[str] | None = None,
               text: Callable[[Any], str] = str) -> None:
    """Fill ``table`` with ``frame``'s ``columns`` (default: all), each cell as ``text(value)``."""
    columns = list(frame.columns if columns is None else columns)
    table.clear()
    table.setColumnCount(len(columns))
    table.setRowCount(len(frame))
    table.setHorizontalHeaderLabels([str(c) for c in columns])
    for i, row in enumerate(frame[columns].itertuples(index=False)):
        for j, value in enumerate(row):
            table.setItem(i, j, QTableWidgetItem(text(value)))
    table.resizeColumnsToContents()
