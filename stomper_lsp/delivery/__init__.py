"""Handing fixes back without losing the user's work: 3-way merges and write-back."""
