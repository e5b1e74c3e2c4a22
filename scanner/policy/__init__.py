"""Policy: one input document in, one decision out (Rego, evaluated by regopy)."""
