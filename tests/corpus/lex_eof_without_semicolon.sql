SELECT 1 AS terminated;
SELECT 'no semicolon' AS last
  -- and a comment after it
