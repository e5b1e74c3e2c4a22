"""Signatures and provenance, verified offline.

- ``bundle``: read what a signature file holds (Sigstore bundle, DSSE envelope, JSON lines).
- ``identity``: who may have signed (identity, regexp, issuer, GitHub Actions claims).
- ``keyless``: Sigstore bundles against a pinned trusted root (``roots``).
- ``keyed``: bundles and DSSE envelopes signed with a managed key (our own code: sigstore-python
  rejects bundles without a certificate).
- ``statement``: in-toto statements and whether the artifact is one of their subjects.
- ``modelsig``: OpenSSF model signatures (model-signing), with a plain-words file diff.
- ``provenance``: SLSA provenance checks (builder, source, materials).
- ``api``: one entry point for the CLI and the gate's checks (``check``).
- ``vsa``: the gate's own signed verification summary.
"""
