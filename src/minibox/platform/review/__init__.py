"""Review: submit, approve or reject with comments, with separation of duties."""
