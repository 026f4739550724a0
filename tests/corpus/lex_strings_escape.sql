SELECT E'it\'s' AS a;
SELECT E'semi;colon\' still in' AS b;
SELECT E'back\\slash' AS c, E'tab\there' AS d;
SELECT e'lower e \' quote' AS e;
SELECT 'it''s' AS f, 'a;b' AS g;
SELECT E'\x41\101' AS h;
SELECT 'multi
line; string' AS i;
SELECT 'adjacent'
  'continuation' AS j;
