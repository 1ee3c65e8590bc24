"""Routing stores: in-memory for one process, Redis for many."""
