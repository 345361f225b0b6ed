"""Session fixtures shared by every Python test suite of the repository (`ardiq_testing.fixtures`)."""

pytest_plugins = ("ardiq_testing.fixtures",)
