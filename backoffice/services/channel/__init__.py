"""Dealer channel use cases: dealers, outlets, terminals, prices, allocation, stock documents,
reservations."""
