CREATE TABLE g_t (id int, name text);
INSERT INTO g_t VALUES (1, 'one'), (2, 'two') \g
SELECT * FROM g_t ORDER BY id \g
SELECT * FROM g_t WHERE id = 1 \gx
SELECT name
  FROM g_t
 WHERE id = 2
\g
SELECT count(*) AS n FROM g_t;
\g
\gx
SELECT 'semicolon and g'; \g
SELECT 'g then more' AS a \g
SELECT 'the last' AS b;
