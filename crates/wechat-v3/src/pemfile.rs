//! PEM decoding shared by the key and certificate parsers, and [`KeyError`].
//!
//! Key material arrives as PEM text typed by an operator; every way it can be wrong is a typed
//! error, never a panic, and an error never echoes the key text back.

/// Why a key or certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not PEM text: {0}")]
    Pem(String),
    #[error("PEM block is {found:?}, expected {expected}")]
    WrongLabel {
        expected: &'static str,
        found: String,
    },
    #[error("the key was rejected: {0}")]
    Rejected(String),
    #[error("not a usable X.509 certificate: {0}")]
    Certificate(String),
}

/// One decoded PEM block: its label and DER contents.
pub(crate) struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

/// Decodes the first PEM block of `text`.
pub(crate) fn first_block(text: &str) -> Result<Block, KeyError> {
    let parsed = pem::parse(text.trim()).map_err(|e| KeyError::Pem(e.to_string()))?;
    Ok(Block {
        label: parsed.tag().to_owned(),
        der: parsed.into_contents(),
    })
}
