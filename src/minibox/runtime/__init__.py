"""minibox.runtime."""
