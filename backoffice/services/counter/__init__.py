"""Counter use cases: terminal sync, sales, returns, shifts, redemption, activations."""
