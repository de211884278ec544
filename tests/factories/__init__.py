"""Factories for the tests: build what a test needs, nothing more (the demo has its own tests)."""
