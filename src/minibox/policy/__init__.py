"""minibox.policy."""
