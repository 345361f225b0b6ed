//! The PyO3 layer: the `ardiq._core` module, its `Core` object, the typed
//! configuration and records that cross the GIL boundary, the conversion of
//! user values, and the Python exceptions.

mod convert;
mod core;
mod errors;
mod inspect;
mod items;
mod requests;
mod runtime;
mod types;

use pyo3::prelude::*;

use crate::bridge::CancelReason;

/// The native module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<core::Core>()?;
    m.add_class::<core::Drained>()?;
    m.add_class::<types::TaskConfig>()?;
    m.add_class::<types::WorkerConfig>()?;
    m.add_class::<types::ScheduleConfig>()?;
    m.add_function(wrap_pyfunction!(items::build_enqueue, m)?)?;
    m.add_function(wrap_pyfunction!(convert::encode_value, m)?)?;
    m.add_function(wrap_pyfunction!(convert::decode_value, m)?)?;
    m.add_function(wrap_pyfunction!(core::check_progress, m)?)?;
    m.add("SPEC_VERSION", ardiq_spec::SPEC_VERSION)?;
    // The package's version is the workspace's (maturin takes it from
    // Cargo.toml): read here, `import ardiq` needs no `importlib.metadata`.
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add("OUTCOME_COMPLETE", types::OUTCOME_COMPLETE)?;
    m.add("OUTCOME_FAILED", types::OUTCOME_FAILED)?;
    m.add("OUTCOME_ABORTED", types::OUTCOME_ABORTED)?;
    m.add("OUTCOME_INTERRUPTED", types::OUTCOME_INTERRUPTED)?;
    m.add("CANCEL_ABORTED", CancelReason::Aborted as u8)?;
    m.add("CANCEL_LOST", CancelReason::Lost as u8)?;
    m.add(
        "DURATION_BUCKETS",
        crate::engine::metrics::DURATION_BUCKETS.to_vec(),
    )?;
    errors::register(m)?;
    Ok(())
}
