//! `scripts/bump-image <env> <image-ref>`: pin one environment's greeter image.

use release_tools::environment::Environment;
use release_tools::image_ref::ImageRef;
use release_tools::{bump, git};
use std::process::ExitCode;

const USAGE: &str = "usage: bump-image <dev|staging|prod> <ghcr.io/greeter-gitops/greeter[:tag][@sha256:digest]>
Pins the overlay's greeter image to exactly this reference (staging and prod need a digest), editing only
its images: entry, then checks the rendered Rollout runs it. Run inside the repository.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [env, image] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(env, image) {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bump-image: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(env: &str, image: &str) -> Result<String, String> {
    let env = Environment::parse(env)?;
    let image = ImageRef::parse(image)?;
    let root = git::toplevel(&std::env::current_dir().map_err(|e| e.to_string())?)?;
    let outcome = bump::bump(&root, env, &image)?;
    Ok(if outcome.changed {
        format!("{env}: {} -> {image}", outcome.previous)
    } else {
        format!("{env}: already {image}")
    })
}
