\set a x
\set b x y z
\set c 'x' 'y'
\set d :a'-'suffix
\set e 'tab\there'
\set f "double quoted"
\set g
\set h 'it''s'
\set i 'back\\slash' '\101'
SELECT :'a' AS a, :'b' AS b, :'c' AS c, :'d' AS d;
SELECT :'e' AS e, :'f' AS f, :'g' AS g, :'h' AS h, :'i' AS i;
\echo :a :b :c :d :e :f :g :h :i
