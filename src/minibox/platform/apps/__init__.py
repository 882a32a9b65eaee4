"""Apps, members, versions, uploads and automated checks."""
