--
-- PostgreSQL-style header of line comments
-- (it's dropped by psql: no statement is pending)
--

CREATE TABLE dash_t (a int);

-- a comment on its own line before a statement
INSERT INTO dash_t VALUES (1);
-- two comment lines
-- before one statement
INSERT INTO dash_t VALUES (2);   -- a comment after it on the same line
SELECT a -- a comment inside
  FROM dash_t   -- another; with a semicolon
 ORDER BY a;
-- a comment at the very end, nothing after it
