//! The frontend's configuration: request limits, the long-poll cap, and whether it serves the
//! web UI.

use serde::{Deserialize, Serialize};
use waymark_api::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrontendConfig {
    /// Largest request body accepted; larger ones answer 413.
    pub max_body_bytes: usize,
    /// Longest a long poll waits (outcome, describe with a token, task poll).
    pub long_poll_cap: Duration,
    /// Serve the web UI at `/ui/` (and redirect `/` there).
    pub ui: bool,
    /// The web origins (`https://app.example.com`, or `*`) whose browser pages may call the API
    /// (CORS); none: no cross-origin calls.
    pub cors_origins: Vec<String>,
}

impl Default for FrontendConfig {
    fn default() -> Self {
        FrontendConfig {
            max_body_bytes: 8 << 20,
            long_poll_cap: Duration::from_secs(60),
            ui: true,
            cors_origins: Vec::new(),
        }
    }
}

/// A configuration value that cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidConfig(pub String);

impl std::fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid frontend config: {}", self.0)
    }
}

impl std::error::Error for InvalidConfig {}

impl FrontendConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.max_body_bytes == 0 {
            return Err(InvalidConfig("max_body_bytes must be positive".into()));
        }
        if self.long_poll_cap.is_negative() || self.long_poll_cap.is_zero() {
            return Err(InvalidConfig(format!(
                "long_poll_cap must be positive, got {}",
                self.long_poll_cap
            )));
        }
        for origin in &self.cors_origins {
            let url = (origin != "*").then(|| origin.split_once("://"));
            let valid = match url {
                None => true,
                Some(Some((scheme, host))) => {
                    matches!(scheme, "http" | "https")
                        && !host.is_empty()
                        && !host.contains('/')
                        && origin.parse::<http::HeaderValue>().is_ok()
                }
                Some(None) => false,
            };
            if !valid {
                return Err(InvalidConfig(format!(
                    "a CORS origin is `*` or scheme://host[:port] (e.g. https://app.example.com), got {origin:?}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_rejected() {
        let cfg = FrontendConfig::default();
        cfg.validate().unwrap();
        assert_eq!(
            (cfg.max_body_bytes, cfg.long_poll_cap),
            (8 * 1024 * 1024, Duration::from_secs(60))
        );
        let parsed: FrontendConfig = serde_json::from_str(r#"{"long_poll_cap":"5s"}"#).unwrap();
        assert_eq!(parsed.long_poll_cap, Duration::from_secs(5));
        assert!(serde_json::from_str::<FrontendConfig>(r#"{"bogus":1}"#).is_err());
        let zero = FrontendConfig {
            long_poll_cap: Duration::ZERO,
            ..cfg
        };
        assert!(zero.validate().is_err());
    }
}
