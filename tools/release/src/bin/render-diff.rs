//! `scripts/render-diff <base-ref>`: rendered-manifest diff of every overlay, as Markdown.

use release_tools::git;
use release_tools::render_diff::{render_diff, DEFAULT_MAX_CHARS};
use std::process::ExitCode;

const USAGE: &str = "usage: render-diff <base-ref> [--max-chars N]
Renders every deploy/overlays/* at <base-ref> and in the work tree and prints per-environment unified
diffs of the rendered objects as Markdown, at most N characters (default 65000: fits a GitHub comment).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments: Vec<&str> = args.iter().map(String::as_str).collect();
    let (base_ref, max_chars) = match arguments.as_slice() {
        [base_ref] => (*base_ref, Some(DEFAULT_MAX_CHARS)),
        [base_ref, "--max-chars", n] => (*base_ref, n.parse().ok()),
        _ => ("", None),
    };
    let Some(max_chars) = max_chars.filter(|_| !base_ref.starts_with('-')) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let outcome = std::env::current_dir()
        .map_err(|e| e.to_string())
        .and_then(|dir| git::toplevel(&dir))
        .and_then(|root| render_diff(&root, base_ref, max_chars));
    match outcome {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("render-diff: {error}");
            ExitCode::FAILURE
        }
    }
}
