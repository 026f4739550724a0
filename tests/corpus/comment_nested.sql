/* outer /* inner */ still in the outer one */ SELECT 'after nesting' AS a;
/* level 1
   /* level 2
      /* level 3; with a semicolon */
   back at 2 ' with a lone quote
   */
back at 1 "with a lone double quote
*/
SELECT 'after deep nesting' AS b;
SELECT 1 /* a /* nested */ comment inside */ + 1 AS two;
/* a comment holding a statement:
DROP TABLE nothing_here;
*/
SELECT 'the DROP above was never sent' AS c;
