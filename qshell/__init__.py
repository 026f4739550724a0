"""qshell: stage PostgreSQL queries, run them at once on N green workers, see what concurrency does."""

__version__ = "0.1.0"
