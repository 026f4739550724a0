\set semi 'a;b'
SELECT :'semi' AS quoted_semicolon;
\set quote 'it''s "quoted"'
SELECT :'quote' AS literal, length(:'quote') AS len;
SELECT 1 AS :"quote";
\set bs 'back\\slash'
SELECT :'bs' AS backslash_literal;
\set stmt 'SELECT 41 + 1 AS from_a_variable;'
:stmt
\set part1 'SELECT 1 AS'
\set part2 'pieces'
:part1 :part2;
\set colon ':semi'
SELECT :'colon' AS not_interpolated_twice;
\set empty ''
SELECT 'x' :empty AS empty_variable;
SELECT :'empty' AS empty_literal, :"semi" FROM (SELECT 1 AS "a;b") s;
