"""The ESC/POS command language: builders, Chinese text, status bytes, a decoder."""
