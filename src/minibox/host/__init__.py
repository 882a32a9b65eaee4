"""minibox.host."""
