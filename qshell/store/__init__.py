"""What qshell keeps between runs: the run history."""
