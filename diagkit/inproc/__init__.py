"""Collectors that run inside the target process. They import nothing heavy and write to a channel."""
