"""Thin API views: validate the body, call a service or selector, serialize the result."""
