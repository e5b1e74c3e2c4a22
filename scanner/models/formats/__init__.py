"""Format scanners, one module per format (see scanner.models.api)."""
