"""Artifacts in an OCI registry: references, a client on oras's session, exact-bytes manifests,
verified blob streaming, referrers (API or tag schema), push, pull, promotion and the stage board.

Heavy imports (``oras``, ``requests``) happen only when a registry is used."""
