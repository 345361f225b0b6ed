"""Testee of the `ardiq` package."""
