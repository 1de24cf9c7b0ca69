"""Settlement (结算) use cases: the ledger, commission plans, revenue share, runs, statements,
shift reconciliation."""
