//! `[assistant]` configuration, validated with named errors.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The assistant's settings. Every field has a sane default, so `[assistant]` may be omitted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AssistantConfig {
    /// Serve the assistant (loads the embedding model at start-up, ≈ 0.2 s and 90 MB).
    pub enabled: bool,
    /// The all-MiniLM-L6-v2 folder; default `$SEXTANT_MODEL_DIR` or `models/all-MiniLM-L6-v2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    /// Markdown documents loaded into an EMPTY knowledge base at start-up (default `kb` when that
    /// folder exists). Afterwards the store is the source of truth: edit through the API or CLI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kb_dir: Option<PathBuf>,
    /// Messages at or below this sentiment (VADER compound, −1..1) go to a human.
    pub handoff_sentiment: f64,
    /// Turns of history kept in view for follow-up questions.
    pub history_turns: u32,
    /// Passages cited per knowledge-base answer.
    pub citations: usize,
    /// Seconds between checks for knowledge-base edits made by other processes.
    pub kb_refresh_secs: u64,
    /// An OpenAI-compatible chat endpoint that rephrases the template text; off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            model_dir: None,
            kb_dir: None,
            handoff_sentiment: -0.6,
            history_turns: 10,
            citations: 2,
            kb_refresh_secs: 10,
            llm: None,
        }
    }
}

/// A bank's self-hosted model server speaking the OpenAI chat-completions protocol.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// `http(s)://host:port` or `http(s)://host:port/v1`; `/v1/chat/completions` is appended as
    /// needed. https is verified against the system's roots plus `ca_file`.
    pub base_url: String,
    pub model: String,
    /// The environment variable holding the bearer token, if the server needs one (never the
    /// token itself: config files end up in logs and tickets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// A PEM file of the private CA that signed the model server's certificate (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
}

fn default_timeout() -> u64 {
    4_000
}

fn default_temperature() -> f32 {
    0.3
}

impl AssistantConfig {
    /// Check ranges and URLs; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(-1.0..=1.0).contains(&self.handoff_sentiment) {
            return Err(format!(
                "assistant.handoff_sentiment: {} is not between -1 and 1",
                self.handoff_sentiment
            ));
        }
        if !(1..=100).contains(&self.history_turns) {
            return Err(format!(
                "assistant.history_turns: {} is not between 1 and 100",
                self.history_turns
            ));
        }
        if !(1..=5).contains(&self.citations) {
            return Err(format!(
                "assistant.citations: {} is not between 1 and 5",
                self.citations
            ));
        }
        if !(1..=86_400).contains(&self.kb_refresh_secs) {
            return Err(format!(
                "assistant.kb_refresh_secs: {} is not between 1 and 86400",
                self.kb_refresh_secs
            ));
        }
        if let Some(l) = &self.llm {
            sextant_outbound::check_url(&l.base_url)
                .map_err(|e| format!("assistant.llm.base_url: {e}"))?;
            if l.ca_file.is_some() && !l.base_url.starts_with("https://") {
                return Err("assistant.llm.ca_file: set, but base_url is not https://".into());
            }
            if l.model.trim().is_empty() {
                return Err("assistant.llm.model: must not be empty".into());
            }
            if !(100..=60_000).contains(&l.timeout_ms) {
                return Err(format!(
                    "assistant.llm.timeout_ms: {} is not between 100 and 60000",
                    l.timeout_ms
                ));
            }
            if !(0.0..=2.0).contains(&l.temperature) {
                return Err(format!(
                    "assistant.llm.temperature: {} is not between 0 and 2",
                    l.temperature
                ));
            }
            if let Some(var) = &l.api_key_env
                && std::env::var_os(var).is_none()
            {
                return Err(format!(
                    "assistant.llm.api_key_env: environment variable {var} is not set"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_are_named() {
        assert!(AssistantConfig::default().validate().is_ok());
        let bad = AssistantConfig {
            handoff_sentiment: -2.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("handoff_sentiment"));
        let bad = AssistantConfig {
            llm: Some(LlmConfig {
                base_url: "ftp://x".into(),
                model: "m".into(),
                api_key_env: None,
                timeout_ms: 1000,
                temperature: 0.3,
                ca_file: None,
            }),
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("assistant.llm.base_url")
        );
    }
}
