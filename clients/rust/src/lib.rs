//! ArdiQ producer client (work in progress).
