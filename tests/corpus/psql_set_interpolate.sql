\set tbl vars_t
\set col amount
\set val 42
\set greeting 'it''s here'
CREATE TABLE :tbl (id int, :col int, note text);
INSERT INTO :tbl VALUES (1, :val, :'greeting');
INSERT INTO :"tbl" (id, :"col") VALUES (2, :val + 1);
SELECT id, :col, note FROM :tbl ORDER BY id;
\set op '>'
SELECT count(*) FROM :tbl WHERE :col :op 42;
\unset val
SELECT :val AS not_a_variable_any_more;
SELECT :'val' AS still_not;
\echo done
