"""Settings, security and crypto of the back office."""
