//! A value replaced whole while the service runs (rotated secrets): readers take the current one
//! and keep it for as long as they need it, so one request never sees half of an update.

use std::sync::{Arc, PoisonError, RwLock};

pub struct Swappable<T>(RwLock<Arc<T>>);

impl<T> Swappable<T> {
    pub fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    /// The current value. The lock is held only to clone the `Arc`.
    pub fn current(&self) -> Arc<T> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, value: T) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
    }
}
