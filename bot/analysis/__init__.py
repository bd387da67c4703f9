"""Prompts, the findings schema, offline analyzers, merging and the review pipeline."""
