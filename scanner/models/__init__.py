"""Model files: find unsafe serialization by reading structure, never by loading."""
