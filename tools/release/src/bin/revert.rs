//! `scripts/revert <payload.json>`: after Argo Rollouts aborted a canary, pin the environment back
//! and deny the aborted digest (the revert workflow opens the PR).

use release_tools::abort_payload::AbortPayload;
use release_tools::{git, revert};
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: revert <payload.json> [--summary-file FILE]
Reads the client_payload of a rollout-aborted dispatch (Argo Rollouts' notification), pins its
environment back to the newest earlier image that is not denied and adds the aborted digest to
deploy/denied-images.yaml; --summary-file writes the PR body. Idempotent. Run inside the repository.
Fails, pinning and denying nothing, when the canary rolled out a change to the pod template under an
image the environment already ran: it names that change, for a human to revert.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments: Vec<&str> = args.iter().map(String::as_str).collect();
    let (payload, summary_file) = match arguments.as_slice() {
        [payload] if !payload.starts_with('-') => (*payload, None),
        [payload, "--summary-file", file] => (*payload, Some(Path::new(file))),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(Path::new(payload), summary_file) {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("revert: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(payload_file: &Path, summary_file: Option<&Path>) -> Result<String, String> {
    let json = std::fs::read_to_string(payload_file)
        .map_err(|e| format!("cannot read {}: {e}", payload_file.display()))?;
    let payload =
        AbortPayload::parse(&json).map_err(|e| format!("{}: {e}", payload_file.display()))?;
    let root = git::toplevel(&std::env::current_dir().map_err(|e| e.to_string())?)?;
    let outcome = revert::revert(&root, &payload)?;
    if let Some(file) = summary_file {
        std::fs::write(file, revert::summary(&payload, &outcome))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    let env = payload.environment;
    let pin = match &outcome.restored {
        Some((aborted, stable)) => format!("{env}: {aborted} -> {stable}"),
        None => format!(
            "{env}: already off {}, pins {}",
            payload.digest(),
            outcome.pinned
        ),
    };
    let deny = if outcome.denied {
        format!("denied {}", payload.digest())
    } else {
        format!("{} already denied", payload.digest())
    };
    Ok(format!("{pin}; {deny}"))
}
