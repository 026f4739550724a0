SELECT current_setting('server_version_num')::int >= 90000 AS new_enough \gset
\if :new_enough
SELECT 'continuing' AS status;
\else
\echo too old
\quit
\endif
SELECT 'still here' AS status;
SELECT getdatabaseencoding() = 'UTF8' AS utf8 \gset
\if :utf8
\echo stopping early
\q
\endif
SELECT 'never sent: after \q' AS status;
