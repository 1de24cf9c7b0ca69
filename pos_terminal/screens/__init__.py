"""The counter app's screens, one module each."""
