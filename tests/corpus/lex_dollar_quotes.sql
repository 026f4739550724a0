SELECT $$plain; dollars$$ AS a;
SELECT $f$with a tag; and $$ inside$f$ AS b;
SELECT $_$underscore tag$_$ AS c;
SELECT $body$line one;
line two; 'quote' "dq"
$body$ AS d;
CREATE FUNCTION dollar_fn() RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  s text := $q$it's; here$q$;
BEGIN
  RETURN s || $$!$$;
END;
$fn$;
SELECT dollar_fn();
DO $do$
BEGIN
  PERFORM 1; -- a comment; in a body
END
$do$;
SELECT $a$ $b$ $a$ AS e;
SELECT length($x1$abc$x1$) AS f;
