"""Testees, one per implementation (see conformance/PROTOCOL.md)."""
