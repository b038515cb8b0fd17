use std::process::ExitCode;
use std::time::Duration;

use greeter::startup::Application;
use greeter::{configuration, telemetry};

/// mimalloc instead of glibc's malloc: a request makes dozens of small allocations (headers,
/// span attributes, JSON), and glibc's malloc and free were a fifth of its instructions
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bound on flushing traces at exit (part of the documented shutdown budget).
const TRACE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let settings = match configuration::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    // Outside the runtime: the OTLP exporter's blocking client must not live inside one.
    let telemetry = match telemetry::init(&settings.telemetry) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("cannot start telemetry: {e}");
            return ExitCode::from(2);
        }
    };
    let result = actix_web::rt::System::new()
        .block_on(async move { Application::build(&settings)?.run_until_stopped().await });
    if let Err(e) = &result {
        tracing::error!(error = %e, "greeter stopped with an error");
    }
    telemetry.shutdown(TRACE_FLUSH_TIMEOUT);
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
