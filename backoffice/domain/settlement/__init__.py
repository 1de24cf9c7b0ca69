"""Settlement rules: ledger entry kinds, periods and statements, commission plans."""
