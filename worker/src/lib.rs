//! `ardiq._core`: the native half of ArdiQ. The worker loop and every Redis
//! command run here, on a tokio runtime whose threads never hold the GIL;
//! Python is reached only through the bridge (`bridge.rs`) to start tasks and
//! read their results.

pub mod bridge;
pub mod conn;
pub mod convert;
pub mod core;
pub mod engine;
pub mod error;
pub mod producer;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<core::Core>()?;
    m.add_function(wrap_pyfunction!(core::build_enqueue, m)?)?;
    m.add_function(wrap_pyfunction!(core::encode_value, m)?)?;
    m.add_function(wrap_pyfunction!(core::decode_value, m)?)?;
    m.add("SPEC_VERSION", ardiq_spec::SPEC_VERSION)?;
    error::register(m)?;
    Ok(())
}
