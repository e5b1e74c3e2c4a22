"""scanner: a supply-chain security gate for applications and ML models."""

__version__ = "0.1.0"
