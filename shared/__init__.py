"""Contracts, enums, lifecycles, barcode codecs and money shared by terminal and back office."""
