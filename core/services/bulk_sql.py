"""Writing many rows at once inside the caller's transaction, as fast as the database allows.

On PostgreSQL rows go through ``COPY ... FROM STDIN`` on the session's own connection
(same transaction, same triggers and constraints as an INSERT) and ids are reserved
from the table's sequence first; updates of many rows by id are one ``UPDATE ... FROM
unnest(...)`` statement. Elsewhere (SQLite) the same calls use plain executemany.
Multi-row INSERT statements are avoided on PostgreSQL on purpose: psycopg parses a large
statement's placeholders in Python on every page, which costs more than the insert.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

from praho.core.db import is_postgres
from sqlalchemy import JSON, BigInteger, Table, any_, bindparam, insert, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session


def ids_in(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids`` as one array parameter on PostgreSQL (``= ANY(:ids)``).

    An expanded IN list is a statement with one placeholder per id, which psycopg parses
    in Python every time; a chunk's thousand ids made that a visible cost.
    """
    return values_in(session, column, ids, BigInteger())


def values_in(session: Session, column: Any, values: Sequence[Any], element_type: Any) -> Any:
    """``column IN values`` as one array parameter of ``element_type`` on PostgreSQL."""
    if is_postgres(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(element_type)))
    return column.in_(list(values))


def _json_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, JSON)}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` new primary keys for ``table`` (PostgreSQL: from its identity sequence)."""
    if count == 0:
        return []
    return list(
        session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        ).scalars()
    )


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, return_ids: bool = False
) -> list[int]:
    """Insert ``rows`` (dicts with the same keys); returns their new ids, in order, if asked."""
    if not rows:
        return []
    if not is_postgres(session):
        if return_ids:
            returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(session.execute(returning, list(rows)).scalars())
        session.execute(insert(table), list(rows))
        return []
    ids: list[int] = []
    if return_ids:
        ids = reserve_ids(session, table, len(rows))
        rows = [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)]
    columns = list(rows[0])
    as_json = _json_columns(table) & set(columns)
    connection = session.connection()
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    json_positions = [i for i, column in enumerate(columns) if column in as_json]
    encoded: dict[int, str] = {}  # the same dict on many rows (a seller snapshot) is encoded once
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                # psycopg would write an enum member's name; the column holds its value.
                values = [_plain(row[column]) for column in columns]
                for position in json_positions:
                    item = values[position]
                    if item is not None:
                        key = id(item)
                        if key not in encoded:
                            encoded[key] = json.dumps(item)
                        values[position] = encoded[key]
                copy.write_row(values)
    except dbapi.IntegrityError as error:
        # Raised like an INSERT's error, so callers handle both the same way.
        raise IntegrityError(statement, None, error) from error
    except dbapi.Error as error:
        raise DBAPIError(statement, None, error) from error
    finally:
        cursor.close()
    return ids


def _array_type(session: Session, table: Table, name: str) -> str:
    """The PostgreSQL array type of a column, from the model (``bigint[]``, ``date[]``...)."""
    element = table.c[name].type.compile(dialect=session.get_bind().dialect)
    return f"{element}[]"


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    constants: dict[str, Any] | None = None,
) -> None:
    """Update many rows by ``id``: each dict has ``id`` and the per-row values; ``constants``
    are the same for every row."""
    if not rows:
        return
    constants = constants or {}
    columns = [c for c in rows[0] if c != "id"]
    if not is_postgres(session):
        by_id = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(**{c: bindparam(f"b_{c}") for c in columns}, **constants)
        )
        session.execute(by_id, [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    names = ["id", *columns]
    unnest = ", ".join(f"CAST(:{name} AS {_array_type(session, table, name)})" for name in names)
    assignments = [f"{c} = v.{c}" for c in columns] + [f"{c} = :const_{c}" for c in constants]
    # Table and column names come from the models; every value is a bound parameter.
    statement = (
        f"UPDATE {table.name} SET {', '.join(assignments)} "  # noqa: S608
        f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE {table.name}.id = v.id"
    )
    session.execute(
        text(statement),
        {
            **{name: [row[name] for row in rows] for name in names},
            **{f"const_{c}": value for c, value in constants.items()},
        },
    )
