CREATE TABLE qe_t (a int);
\set QUIET on
INSERT INTO qe_t VALUES (1);
SELECT a FROM qe_t;
\set QUIET off
INSERT INTO qe_t VALUES (2);
\set ECHO queries
SELECT count(*) FROM qe_t;
\set ECHO all
SELECT max(a) FROM qe_t;
\set ECHO none
SELECT min(a) FROM qe_t;
\echo :QUIET :ECHO
