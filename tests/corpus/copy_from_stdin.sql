CREATE TABLE copy_t (id int, name text, note text);
COPY copy_t FROM stdin;
1	one	it's; not SQL
2	two	\N
3	three	SELECT 1;
\.
SELECT * FROM copy_t ORDER BY id;
COPY copy_t (id, name) FROM STDIN WITH (FORMAT csv);
4,"four; with a semicolon"
5,"five
spanning a line"
\.
SELECT count(*) FROM copy_t;
copy copy_t from stdin;
6	six	/* not a comment */
\.
SELECT 'after the copies' AS done;
