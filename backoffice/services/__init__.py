"""Use cases of the back office; each owns its transaction."""
