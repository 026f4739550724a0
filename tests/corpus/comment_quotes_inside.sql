-- it's a comment with a quote
SELECT 'a' AS x; -- it's after a statement
/* it's $$ a dollar "quote" ; */ SELECT 'b' AS y;
SELECT 'c' /* ' */ AS z;
SELECT '-- not a comment' AS dashes, '/* nor this */' AS slashes;
SELECT "quoted--ident" FROM (SELECT 1 AS "quoted--ident") s;
SELECT $$ -- in dollars $$ AS d, $$ /* also */ $$ AS e;
