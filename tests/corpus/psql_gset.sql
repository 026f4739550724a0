SELECT 7 AS seven, 'it''s' AS quote, NULL AS nothing \gset
\echo :seven :quote :{?nothing}
SELECT :seven * 6 AS answer, :'quote' AS q;
SELECT 1 AS one, 2 AS two \gset my_
\echo :my_one :my_two
SELECT :my_one + :my_two AS three;
SELECT current_setting('server_version_num')::int >= 100000 AS modern \gset
\if :modern
SELECT 'modern server' AS era;
\else
SELECT 'old server' AS era;
\endif
SELECT 'x' AS a, 'y' AS b
\gset
\echo :a:b
SELECT 1 AS many FROM generate_series(1, 2) \gset
SELECT 'after a failing gset' AS c;
SELECT 'no rows' AS d WHERE false \gset
\echo :{?d}
