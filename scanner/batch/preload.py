"""The local pool's fork server imports this module once, before it forks any worker (only
where workers cannot be forked from the driver itself): a warm-up with the shipped policies, so
each worker starts with what judging needs already imported (see ``warm.py``)."""

from scanner.batch.warm import warm_quietly

warm_quietly()
