"""Privacy: orders to delete a user's data across every host of the organisation."""
