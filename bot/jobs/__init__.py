"""arq job functions, their payload contracts and the worker settings."""
