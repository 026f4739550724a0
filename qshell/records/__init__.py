"""Result records: the one language between the engine and the renderers. Imports nothing else of qshell."""
