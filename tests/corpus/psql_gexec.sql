CREATE TABLE gexec_src (name text);
INSERT INTO gexec_src VALUES ('gexec_a'), ('gexec_b');
SELECT format('CREATE TABLE %I (id int)', name) FROM gexec_src ORDER BY name \gexec
SELECT format('INSERT INTO %I VALUES (%s)', name, length(name)), format('SELECT count(*) FROM %I', name)
  FROM gexec_src ORDER BY name
\gexec
SELECT 'SELECT 1 AS from_gexec', NULL, 'SELECT 2 AS also_from_gexec' \gexec
SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'gexec%' ORDER BY 1;
