"""minibox.package."""
