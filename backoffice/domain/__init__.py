"""Pure domain rules of the back office: no ORM, no web framework."""
