"""The interactive loop and its commands: dispatch, completion, describe, the terminal."""
