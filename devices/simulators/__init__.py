"""Simulated counter devices for demos and tests: printer, scanner and customer display."""
