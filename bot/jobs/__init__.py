"""arq job functions, their payload contracts, the worker settings and the start-up check
that Redis, the queue, will not lose jobs (``redis_checks``)."""
