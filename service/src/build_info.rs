//! What build is running: crate version (or the image's VERSION build arg) and git revision.

/// `GET /version`.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
}

/// Set at compile time: the image build passes `GREETER_VERSION`/`GREETER_REVISION`.
pub const BUILD: BuildInfo = BuildInfo {
    version: match option_env!("GREETER_VERSION") {
        Some(v) if !v.is_empty() => v,
        _ => env!("CARGO_PKG_VERSION"),
    },
    revision: match option_env!("GREETER_REVISION") {
        Some(r) if !r.is_empty() => r,
        _ => "unknown",
    },
};
