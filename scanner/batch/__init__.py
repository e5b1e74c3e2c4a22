"""Batch scans of many artifacts in one run (``scanner batch``).

The driver (``run.py``) reads the sources, hands each one as a ``Task`` to an executor
(``executor.py``: a local process pool in ``local.py``, a Dask cluster in ``dask_executor.py``),
and receives one ``ArtifactResult`` per artifact as it finishes. Workers prepare once (policies
compiled, database opened: ``job.py``), identify each artifact (its digest) and judge it through
the same gate as ``scanner gate``. The driver alone writes: the result cache (``cache.py``), the
evidence records and the ledger (``evidence.py``), and the summary (``summary.py``).
"""
