SELECT 'before' AS a;
SELECT 1/0;
SELECT 'after the first error' AS b;
\set ON_ERROR_STOP on
SELECT 'still running' AS c;
SELECT * FROM no_such_table;
SELECT 'never sent' AS d;
