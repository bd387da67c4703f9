"""GitLab through python-gitlab (in threads): the adapter (``forge``) and the SDK-free pieces
it is built from: diff items, positions, statuses, review publishing, feedback."""
