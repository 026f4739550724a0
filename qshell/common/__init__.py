"""The ground floor every layer may use: exit statuses and errors, typed numbers, file paths, escaping of untrusted text."""
