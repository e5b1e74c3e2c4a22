"""Offline dependency audit: OSV records in a local SQLite database, exact OSV matching,
dependency collection from environments, requirements, pyproject, pylock and SBOMs.

Modules: ``osv`` (matching semantics, pure), ``sources`` (reading OSV dumps, bounded),
``db`` (the SQLite database), ``snapshot`` (the bundled default), ``deps`` (what to audit),
``pip_audit_adapter`` (the one place pip-audit's private API is used), ``audit`` (findings),
``check`` (the gate's check), ``update`` (download for ``scanner db update``).
"""
