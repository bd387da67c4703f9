"""GitHub through githubkit: the adapter (``forge``), its auth and pacing (``auth``), the
App's own endpoints (``app_hooks``) and the SDK-free pieces it is built from."""
