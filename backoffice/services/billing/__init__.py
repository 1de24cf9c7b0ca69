"""Billing centre (营账) use cases: numbers, grading, SIM cards, top-up cards, imports, releases."""
