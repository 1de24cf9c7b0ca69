"""Counter hardware: scanners, receipt printers, cash drawers, customer displays."""
