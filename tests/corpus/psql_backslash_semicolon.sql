SELECT 1 AS a \; SELECT 2 AS b;
CREATE TABLE semi_t (x int) \; INSERT INTO semi_t VALUES (1) \; INSERT INTO semi_t VALUES (2);
SELECT count(*) FROM semi_t \;
SELECT max(x) FROM semi_t;
SELECT 'x' AS c \; SELECT 'y' AS d \g
SELECT 1/0 AS boom \; SELECT 'not reached' AS e;
BEGIN \; INSERT INTO semi_t VALUES (3) \; COMMIT;
SELECT count(*) AS after FROM semi_t;
