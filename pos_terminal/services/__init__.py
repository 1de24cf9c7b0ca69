"""UI-free business services of the counter: what the Textual screens and the tests call."""
