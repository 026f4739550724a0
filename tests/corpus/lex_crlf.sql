SELECT 1 AS crlf;
SELECT 2
  AS two_lines;
-- a comment
SELECT 3 AS three;
/* block
 */ SELECT 4 AS four;
