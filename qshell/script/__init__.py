"""Input text -> entries: psql's statement splitting, the reader, variables, and the meta-command table."""
