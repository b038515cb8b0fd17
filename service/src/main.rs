use std::process::ExitCode;
use std::time::Duration;

use greeter::startup::Application;
use greeter::{configuration, synthetic_traffic, telemetry};

/// mimalloc instead of glibc's malloc: a request makes dozens of small allocations (headers,
/// span attributes, JSON), and glibc's malloc and free were a fifth of its instructions
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bound on flushing traces at exit (part of the documented shutdown budget).
const TRACE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// No argument: the service. `synthetic-traffic …`: the load generator, which needs none of the
/// service's configuration.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        None => serve(),
        Some((command, rest)) if command == synthetic_traffic::COMMAND => {
            synthetic_traffic::main(rest)
        }
        Some((other, _)) => {
            eprintln!(
                "greeter: unknown command {other:?}; run without arguments to serve, or `greeter {} --help`",
                synthetic_traffic::COMMAND
            );
            ExitCode::from(2)
        }
    }
}

fn serve() -> ExitCode {
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
