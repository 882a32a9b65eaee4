"""minibox.compiler."""
