\set name world
\set multi 'two words'
\echo hello :name
\echo :'name' :"name"
\echo 'quoted text' "double quoted"
\echo :multi and more
\echo -n no newline
\echo
\echo 'a\tb' 'c\nd'
\echo :nosuchvariable
\echo 'embedded :name is not interpolated in quotes'
\qecho to the query output
\warn to stderr
SELECT 1 AS after_echo;
