"""Orchestration of the two analysis levels: what runs, in which order, in which process."""
