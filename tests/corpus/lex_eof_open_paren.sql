SELECT 'before' AS a;
CREATE TABLE open_paren_t (a int;
SELECT 'swallowed by the open parenthesis' AS b;
SELECT 'end' AS c;
