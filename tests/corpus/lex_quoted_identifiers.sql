CREATE TABLE "semi;colon" ("it's" int, """quoted""" text, "a--b" int, "c/*d" int);
INSERT INTO "semi;colon" VALUES (1, 'x', 2, 3);
SELECT "it's", """quoted""", "a--b", "c/*d" FROM "semi;colon";
SELECT 1 AS "one;two";
SELECT 2 AS "
";
DROP TABLE "semi;colon";
