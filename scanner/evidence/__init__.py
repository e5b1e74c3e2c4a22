"""Evidence: the record of what was checked, by what, when, and what was decided."""
