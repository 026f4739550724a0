-- run with: -v tbl=cmd_t -v n=3 -v label=it's -v flag=on (ARGS in tests/test_corpus.py)
CREATE TABLE :tbl (n int, label text);
INSERT INTO :tbl SELECT g, :'label' FROM generate_series(1, :n) g;
SELECT * FROM :"tbl" ORDER BY n;
\if :flag
SELECT 'flag is on' AS flag;
\endif
\echo :tbl :n :label
