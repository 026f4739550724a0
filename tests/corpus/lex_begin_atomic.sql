CREATE FUNCTION atomic_add(a int, b int) RETURNS int
LANGUAGE SQL
BEGIN ATOMIC
  SELECT a + b;
END;

CREATE TABLE atomic_log (v int);

CREATE FUNCTION atomic_classify(x int) RETURNS text
LANGUAGE SQL
BEGIN ATOMIC
  INSERT INTO atomic_log VALUES (x);
  SELECT CASE
           WHEN x < 0 THEN 'negative'
           WHEN x = 0 THEN 'zero'
           ELSE CASE WHEN x > 100 THEN 'big' ELSE 'small' END
         END;
END;

create or replace function atomic_lower(x int) returns int language sql
begin atomic; select x - 1; end;

CREATE PROCEDURE atomic_proc(x int)
LANGUAGE SQL
BEGIN ATOMIC
  INSERT INTO atomic_log VALUES (x);
  INSERT INTO atomic_log VALUES (x * 2);
END;

SELECT atomic_add(1, 2);
SELECT atomic_classify(-5), atomic_classify(0), atomic_classify(7), atomic_classify(500);
SELECT atomic_lower(10);
CALL atomic_proc(21);
SELECT v FROM atomic_log ORDER BY v;
