//! The few git operations the release tools need, through the git CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git ({e}): apt-get install git"))?;
    if !output.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The top of the git work tree containing `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf, String> {
    Ok(PathBuf::from(
        git(dir, &["rev-parse", "--show-toplevel"])?.trim(),
    ))
}

/// The full commit id `rev` names, if it names a commit in this repository.
pub fn resolve_commit(repo: &Path, rev: &str) -> Option<String> {
    git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .ok()
    .map(|s| s.trim().to_string())
}

/// Writes the tree of commit `rev` into `dest` (an existing empty directory) with `git archive`,
/// so rendering a base revision never touches the work tree, the index or `.git/worktrees`.
pub fn export_tree(repo: &Path, rev: &str, dest: &Path) -> Result<(), String> {
    let commit = resolve_commit(repo, rev)
        .ok_or_else(|| format!("`{rev}` is not a commit in {}", repo.display()))?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["archive", "--format=tar", &commit])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git ({e}): apt-get install git"))?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(archive.stdout.take().expect("stdout is piped"))
        .status()
        .map_err(|e| format!("cannot run tar ({e}): apt-get install tar"))?;
    let archived = archive.wait().map_err(|e| e.to_string())?;
    if !archived.success() || !tar.success() {
        return Err(format!("exporting {rev} with git archive | tar failed"));
    }
    Ok(())
}

/// A commit: its full id, and `<short id> <subject>` for messages.
pub struct Commit {
    pub id: String,
    pub summary: String,
}

/// The commits reachable from `rev` that changed any of `paths`, newest first.
pub fn commits_changing(repo: &Path, rev: &str, paths: &[&str]) -> Result<Vec<Commit>, String> {
    let mut args = vec!["log", "--format=%H %h %s", rev, "--"];
    args.extend_from_slice(paths);
    Ok(git(repo, &args)?
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(id, summary)| Commit {
            id: id.to_string(),
            summary: summary.to_string(),
        })
        .collect())
}

/// The contents of `path` in `commit`; none when the commit has no such file.
pub fn file_at(repo: &Path, commit: &str, path: &str) -> Option<String> {
    git(repo, &["show", &format!("{commit}:{path}")]).ok()
}

/// The contents of `path` in every commit reachable from `rev` that changed it, newest first.
pub fn file_history(repo: &Path, rev: &str, path: &Path) -> Result<Vec<String>, String> {
    let path = path.to_string_lossy();
    // A commit that deleted the file has no contents to show; it pins nothing.
    Ok(commits_changing(repo, rev, &[&path])?
        .iter()
        .filter_map(|commit| file_at(repo, &commit.id, &path))
        .collect())
}

/// One-line summaries of the commits in `from..to` touching `paths`, oldest last.
pub fn log_oneline(
    repo: &Path,
    from: &str,
    to: &str,
    paths: &[&str],
) -> Result<Vec<String>, String> {
    let range = format!("{from}..{to}");
    let mut args = vec!["log", "--format=%h %s", &range, "--"];
    args.extend_from_slice(paths);
    Ok(git(repo, &args)?.lines().map(str::to_string).collect())
}
