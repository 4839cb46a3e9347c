"""Diagnosis: what a finished Report's sections say to fix first."""
