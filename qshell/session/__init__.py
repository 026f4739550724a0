"""What the user is connected to: the libpq target, the user's own session connection, the embedded sandbox."""
