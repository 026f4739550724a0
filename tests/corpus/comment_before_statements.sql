CREATE TABLE hint_t (id int, v text);
/*+ SeqScan(hint_t) */ SELECT count(*) FROM hint_t;
/* a plain block comment */ INSERT INTO hint_t VALUES (1, 'x');
/* on its own line */
SELECT v FROM hint_t;
-- a dash comment on its own line
/* then a block one */
SELECT id FROM hint_t;
SELECT /* in the middle */ id, v FROM hint_t /* near the end */;
