"""Request and response models of the back-office API, one module per area (never the tables
themselves)."""
