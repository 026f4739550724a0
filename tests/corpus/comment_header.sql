/*
 * it's a header
 *
 * Creates a small table and reads it back.
 */
CREATE TABLE header_t (id int PRIMARY KEY, name text);
INSERT INTO header_t VALUES (1, 'one'), (2, 'two');
SELECT * FROM header_t ORDER BY id;
