CREATE TABLE paren_t (
    id   int,
    name text,
    CHECK (id > 0)
);
INSERT INTO paren_t
VALUES (1,
        'a'),
       (2, 'b');
SELECT *
  FROM paren_t
 WHERE id IN (
     SELECT id
       FROM paren_t
      WHERE name <> 'z'
 )
 ORDER BY id;
CREATE TABLE paren_log (msg text);
CREATE RULE paren_rule AS ON INSERT TO paren_t DO ALSO (
    INSERT INTO paren_log VALUES ('one');
    INSERT INTO paren_log VALUES ('two')
);
INSERT INTO paren_t VALUES (3, 'c');
SELECT msg FROM paren_log ORDER BY msg;
