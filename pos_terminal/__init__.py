"""The counter terminal: Textual app, local store, outbox and sync client."""
