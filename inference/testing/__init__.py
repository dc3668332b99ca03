"""Test helpers for the inference layer (no Django imports here)."""
