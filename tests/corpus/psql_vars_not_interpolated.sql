\set v replaced
SELECT ':v' AS in_quotes, $$:v$$ AS in_dollars, 1::int AS cast_is_not_a_variable;
SELECT ":v" FROM (SELECT 1 AS ":v") s;
-- :v in a comment
SELECT 'x' /* :v */ AS y;
SELECT :v AS z FROM (SELECT 'ok' AS replaced) s;
SELECT ARRAY[1,2,3][1:2] AS slice, ARRAY[1,2,3][:2] AS open_slice;
SELECT E':v' AS e_string;
SELECT :"v" FROM (SELECT 'ok' AS replaced) s;
SELECT :'v' || ':v' AS mixed;
\set sql 'SELECT 42 AS from_variable'
:sql;
