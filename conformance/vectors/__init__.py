"""The vector generator: one module per area, the shared builders, and `generate` (the CLI)."""
