"""minibox.view."""
