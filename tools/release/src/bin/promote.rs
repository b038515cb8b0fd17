//! `scripts/promote <from> <to>`: copy the image one environment runs into the next.
//! `scripts/promote --check <base-ref>`: CI guard that prod only receives what staging runs, and
//! that no environment receives a denied digest.

use release_tools::environment::Environment;
use release_tools::{git, promote};
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: promote <dev|staging> <staging|prod> [--summary-file FILE]
       promote --check <base-ref>
The first form pins <to> to exactly the image (digest) <from> runs; --summary-file writes the PR body
(old/new images and digests, commit range). The second form fails unless a changed prod image is the
digest staging runs at <base-ref>, or a digest prod ran before (a rollback), and fails when any
environment would run a digest of deploy/denied-images.yaml. Run inside the repository.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match arguments.as_slice() {
        ["--check", base_ref] => root().and_then(|root| promote::check(&root, base_ref)),
        [from, to] => run(from, to, None),
        [from, to, "--summary-file", file] => run(from, to, Some(Path::new(file))),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("promote: {error}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> Result<std::path::PathBuf, String> {
    git::toplevel(&std::env::current_dir().map_err(|e| e.to_string())?)
}

fn run(from: &str, to: &str, summary_file: Option<&Path>) -> Result<String, String> {
    let (from, to) = (Environment::parse(from)?, Environment::parse(to)?);
    let root = root()?;
    let promotion = promote::promote(&root, from, to)?;
    if let Some(file) = summary_file {
        std::fs::write(file, promote::summary(&root, &promotion))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    Ok(if promotion.changed {
        format!(
            "{to}: {} -> {} (from {from})",
            promotion.previous, promotion.image
        )
    } else {
        format!("{to}: already {} (as {from})", promotion.image)
    })
}
