//! The ArdiQ worker engine (work in progress).
