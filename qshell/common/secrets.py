"""Passwords written in SQL, kept out of what qshell records and shows of a statement.

``CREATE ROLE … PASSWORD 'x'``, ``ALTER USER … ENCRYPTED PASSWORD 'SCRAM-SHA-256$…'``, a
user mapping's ``OPTIONS (password 'x')``: the server gets the text as written; the run
history, the JSON and CSV records, the summaries, reports and the command history get it
with the literal after ``PASSWORD`` as ``'***'`` (or, for the command history, not at all,
as the secret would otherwise sit in a plain file). A connection string's password is
``qshell.session.connect.redact``'s business.
"""
from __future__ import annotations

import re

# a role statement setting a password (the command history drops such a line whole)
SETS_PASSWORD = re.compile(r"\b(?:CREATE|ALTER)\s+(?:ROLE|USER|GROUP)\b.*\bPASSWORD\s+(?:E?'|\$|U&')",
                           re.IGNORECASE | re.DOTALL)
# PASSWORD followed by a literal: '…' ('' inside), E'…' (\' too), U&'…', $tag$…$tag$
_LITERAL = re.compile(r"(\bPASSWORD\s+)(?:(?:[Ee]|[Uu]&)?'(?:[^'\\]|''|\\.)*(?:'|$)|(\$[A-Za-z_0-9]*\$)[\s\S]*?(?:\2|$))",
                      re.IGNORECASE)


def without_passwords(sql: str) -> str:
    """``sql`` with the literal of every ``PASSWORD '…'`` in it shown as ``'***'``."""
    if "assword" not in sql and "ASSWORD" not in sql:  # (the common text: no regex at all)
        return sql
    return _LITERAL.sub(r"\1'***'", sql)
