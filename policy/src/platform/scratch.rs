//! A private temporary directory, removed when dropped (renders and probes write files helm and
//! the validators read).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Scratch {
    dir: PathBuf,
    files: Cell<usize>,
}

impl Scratch {
    pub fn new(purpose: &str) -> Result<Self, String> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "policy-{purpose}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Self {
            dir,
            files: Cell::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A path in it no other call returned: `<n>.<extension>`.
    pub fn new_file(&self, extension: &str) -> PathBuf {
        let n = self.files.replace(self.files.get() + 1);
        self.dir.join(format!("{n}.{extension}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
