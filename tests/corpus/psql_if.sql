\set yes true
\set no off
\if :yes
SELECT 'yes branch' AS a;
\else
SELECT 'never sent' AS a;
\endif
\if :no
SELECT 'never sent' AS b;
\elif 1
SELECT 'elif branch' AS b;
\else
SELECT 'never sent either' AS b;
\endif
\if false
  \set skipped 1
  SELECT 'skipped; with a semicolon' AS c;
  \echo not echoed
\elif :{?skipped}
  SELECT 'skipped was set' AS c;
\else
  SELECT 'skipped was not set' AS c;
\endif
\if yes
  \if 0
    SELECT 'inner never' AS d;
  \else
    SELECT 'nested else' AS d;
  \endif
\endif
\if ON
SELECT 'ON is true' AS e;
\endif
\if t
SELECT 't is true' AS f;
\endif
\if of
SELECT 'of is off' AS g;
\else
SELECT 'of is false' AS g;
\endif
