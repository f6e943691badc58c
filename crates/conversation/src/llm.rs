//! The optional language-model backend: an OpenAI-compatible `POST /v1/chat/completions` that
//! rephrases the template text. Whatever it returns must pass
//! [`sextant_assistant::language::guard`] — every number, rate, date and product name must be one
//! of the facts supplied — or the template text is used and the rejection is logged (kinds and
//! counts only: the text may quote the customer's figures). Timeouts, HTTP errors and malformed
//! answers also fall back to the template, so the assistant never depends on the model server.

use crate::config::LlmConfig;
use serde::{Deserialize, Serialize};
use sextant_assistant::language::{Facts, guard};
use std::time::Duration;

/// The instructions sent with every request.
pub const SYSTEM_PROMPT: &str = "You rewrite a bank assistant's draft reply for a retail banking customer. \
Keep the meaning. Use short, plain sentences. Use ONLY the numbers, amounts, rates, dates and product \
names that appear in the facts; never add a figure, a product or a promise. Reply with the rewritten text only.";

/// What happened to one rephrasing attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LlmOutcome {
    /// The model's text passed the guard and is used.
    Accepted,
    /// The model's text broke the guard; the template text is used.
    Rejected { violations: Vec<String> },
    /// The server failed, timed out or answered nonsense; the template text is used.
    Failed { reason: String },
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage>,
    temperature: f32,
    max_tokens: u32,
}

#[derive(Serialize, Deserialize)]
struct ChatMessage {
    role: String,
    content: String,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChatMessage,
}

/// A client for one configured endpoint.
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    url: String,
    model: String,
    token: Option<String>,
    temperature: f32,
}

impl LlmClient {
    /// Build from validated config (the token is read from the named environment variable now).
    pub fn new(cfg: &LlmConfig) -> Result<Self, String> {
        let base = cfg.base_url.trim_end_matches('/');
        let url = if base.ends_with("/v1") {
            format!("{base}/chat/completions")
        } else {
            format!("{base}/v1/chat/completions")
        };
        let http = sextant_outbound::client(
            Duration::from_millis(cfg.timeout_ms),
            cfg.ca_file.as_deref(),
        )
        .map_err(|e| format!("assistant.llm: {e}"))?;
        Ok(Self {
            http,
            url,
            model: cfg.model.clone(),
            token: cfg.api_key_env.as_ref().and_then(|v| std::env::var(v).ok()),
            temperature: cfg.temperature,
        })
    }

    /// Ask the model to rephrase `draft` using only `facts`. Returns the text to show and what
    /// happened.
    pub async fn rephrase(
        &self,
        draft: &str,
        facts: &Facts,
        product_names: &[String],
    ) -> (String, LlmOutcome) {
        match self.call(draft, facts).await {
            Err(reason) => {
                tracing::warn!(%reason, "language model unavailable; template text used");
                (draft.to_string(), LlmOutcome::Failed { reason })
            }
            Ok(text) => match guard(&text, facts, product_names) {
                Ok(()) => (text, LlmOutcome::Accepted),
                Err(violations) => {
                    let kinds: Vec<String> =
                        violations.iter().map(|v| format!("{:?}", v.kind)).collect();
                    tracing::warn!(
                        violations = violations.len(),
                        kinds = ?kinds,
                        "language model text rejected by the fact guard; template text used"
                    );
                    (
                        draft.to_string(),
                        LlmOutcome::Rejected {
                            violations: violations.iter().map(|v| v.text.clone()).collect(),
                        },
                    )
                }
            },
        }
    }

    async fn call(&self, draft: &str, facts: &Facts) -> Result<String, String> {
        let facts_json = serde_json::to_string(facts).map_err(|e| e.to_string())?;
        let body = ChatRequest {
            model: &self.model,
            messages: vec![
                ChatMessage {
                    role: "system".into(),
                    content: SYSTEM_PROMPT.into(),
                },
                ChatMessage {
                    role: "user".into(),
                    content: format!("Facts (JSON): {facts_json}\n\nDraft reply:\n{draft}"),
                },
            ],
            temperature: self.temperature,
            max_tokens: 400,
        };
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                "timed out".to_string()
            } else {
                format!("request failed: {e}")
            }
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let parsed: ChatResponse = resp
            .json()
            .await
            .map_err(|e| format!("malformed response: {e}"))?;
        let text = parsed
            .choices
            .into_iter()
            .next()
            .map(|c| c.message.content.trim().to_string())
            .unwrap_or_default();
        if text.is_empty() {
            return Err("empty completion".into());
        }
        Ok(text)
    }
}
