\set defined yes
SELECT :{?defined} AS d, :{?undefined} AS u;
\unset defined
SELECT :{?defined} AS after_unset;
\echo :{?defined} :{?ON_ERROR_STOP}
\set ON_ERROR_STOP 0
\echo :{?ON_ERROR_STOP}
