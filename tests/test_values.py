"""Values are shown as PostgreSQL prints them: nothing reinterpreted, NULL distinct from ''."""
from __future__ import annotations

import json

from qshell.engine.pool import QueryPool
from qshell.output.result_tables import table
from qshell.output.styles import Style

CASES = [
    ("42::int", "42"),
    ("9223372036854775807::bigint", "9223372036854775807"),
    ("1.50::numeric", "1.50"),
    ("1e-7::numeric(12,9)", "0.000000100"),
    ("0.1::float8", "0.1"),
    ("'NaN'::float8", "NaN"),
    ("'héllo ✓ 日本'::text", "héllo ✓ 日本"),
    ("''::text", ""),
    ("true", "t"),
    ("'2024-02-29'::date", "2024-02-29"),
    ("'2024-02-29 13:14:15.5'::timestamp", "2024-02-29 13:14:15.5"),
    ("'2024-02-29 13:14:15+00'::timestamptz", "2024-02-29 13:14:15+00"),
    ("'1 day 02:03:04'::interval", "1 day 02:03:04"),
    ("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("'{\"a\": 1,  \"b\": [1, 2]}'::json", "{\"a\": 1,  \"b\": [1, 2]}"),
    ("'{\"b\": 2, \"a\": 1}'::jsonb", "{\"a\": 1, \"b\": 2}"),
    ("ARRAY[1,2,3]", "{1,2,3}"),
    ("ARRAY['a b', NULL]", "{\"a b\",NULL}"),
    ("'\\x6869'::bytea", "\\x6869"),
    ("'007'::text", "007"),
    ("1e3::numeric", "1000"),
]


def test_values_are_the_servers_text(db):
    cols = ", ".join(f"{expr} AS c{i}" for i, (expr, _) in enumerate(CASES))
    run = QueryPool(db, [f"SELECT {cols}"], 1).run()
    q = run.queries[0]
    assert q.error is None
    row = q.rows[0]
    for (expr, expected), got in zip(CASES, row, strict=True):
        if "timestamptz" in expr:
            assert got.startswith("2024-02-29 "), got  # shown in the session's time zone
            continue
        assert got == expected, expr


def test_null_differs_from_empty_string_in_table_and_json(qshell):
    r = qshell("\\add SELECT NULL::text AS n, ''::text AS e, 'x' AS x;\n\\go\n")
    assert r.code == 0, r.err
    line = next(line for line in r.out.splitlines() if "<null>" in line)
    assert line.count("<null>") == 1
    r = qshell("\\add SELECT NULL::text AS n, ''::text AS e;\n\\go\n", "--format", "json")
    rec = json.loads(r.out.splitlines()[0])
    assert rec["rows"] == [[None, ""]]


def test_table_keeps_numeric_text_and_right_aligns_numbers(db):
    q = db.execute("SELECT 1.50::numeric AS n, '007'::text AS t, 10 AS i UNION ALL SELECT 100.25, 'x', 7")
    text = table(q, Style())
    assert "1.50" in text and "007" in text and "100.25" in text
    lines = text.splitlines()
    row1 = next(line for line in lines if "007" in line)
    row2 = next(line for line in lines if "100.25" in line)
    # numbers right-aligned: the last digit of 1.50 lines up with that of 100.25
    assert row1.index("1.50") + 4 == row2.index("100.25") + 6


def test_null_setting_changes_the_marker(qshell):
    r = qshell("\\set null (nada)\nSELECT NULL AS n;\n")
    assert "(nada)" in r.out


def test_wide_values_are_shortened_in_tables_not_in_json(qshell):
    r = qshell("\\set maxwidth 20\nSELECT repeat('y', 500) AS w;\n")
    assert "y" * 19 + "…" in r.out and "y" * 21 not in r.out
    r = qshell("SELECT repeat('y', 500) AS w;\n", "--format", "json")
    assert json.loads(r.out)["rows"] == [["y" * 500]]
