\set tag t1
\set n 3
CREATE FUNCTION body_fn() RETURNS text LANGUAGE sql AS $$ SELECT ':tag' $$;
CREATE FUNCTION body_atomic(x int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT x * :n;
END;
SELECT body_fn(), body_atomic(2);
DO $do$ BEGIN RAISE NOTICE ':tag is not replaced here'; END $do$;
CREATE TABLE :"tag" (n int DEFAULT :n);
INSERT INTO :"tag" DEFAULT VALUES;
SELECT n FROM :"tag";
