SELECT 1 AS first;
/* two
 lines */
SELECT 2 AS second;
/*
 * A block comment of several lines between statements;
 * it holds a semicolon; and a quote ' and "another".
 */

SELECT 3 AS third;
/* one line */
/* and another */ SELECT 4 AS fourth;
SELECT 5 AS fifth; /* a block after a statement,
  running over the next line */ SELECT 6 AS sixth;
