"""minibox.platform."""
