"""HTTP API of the back office, versioned under /api/v1."""
