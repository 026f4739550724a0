SELECT 1 AS one
\if true
  , 2 AS two
\else
  , 3 AS three
\endif
;
\set use_filter false
SELECT count(*) FROM generate_series(1, 10) g
\if :use_filter
  WHERE g > 5
\endif
;
\if :{?undefined_var}
\echo defined
\else
\echo undefined
\endif
