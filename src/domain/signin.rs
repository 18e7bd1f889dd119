//! How a person signed in: the methods (RFC 8176 `amr` values) and the level they reach
//! (our `acr` values, OpenID Connect Core §2).

use std::fmt;

/// The ways a session can have been signed in. Stored as its `amr` string; a stored
/// string that is not one of these reads as `Password`, the weakest (fail closed: an
/// unreadable record never satisfies a step-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// A password alone.
    Password,
    /// A password, then a code (authenticator app or recovery code).
    PasswordAndCode,
    /// A passkey with user verification, alone: possession of the key plus the PIN or
    /// biometric that unlocked it, so two factors (WebAuthn L3 §6.2.3).
    Passkey(KeyStorage),
    /// A password, then a passkey as the second step.
    PasswordAndPasskey(KeyStorage),
}

/// RFC 8176 §2: `hwk` for a key that stays in its device, `swk` for one that is synced
/// (backup eligible, WebAuthn L3 §6.1.3), since its private key leaves the hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStorage {
    Hardware,
    Software,
}

impl KeyStorage {
    pub fn from_backup_eligible(eligible: bool) -> KeyStorage {
        if eligible {
            KeyStorage::Software
        } else {
            KeyStorage::Hardware
        }
    }

    fn amr(self) -> &'static str {
        match self {
            KeyStorage::Hardware => "hwk",
            KeyStorage::Software => "swk",
        }
    }
}

/// Authentication context classes, weakest first (the derived order is the strength).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Acr {
    Password,
    MultiFactor,
    PhishingResistant,
}

pub const ACR_VALUES: [&str; 3] = [
    "urn:portcullis:acr:pwd",
    "urn:portcullis:acr:mfa",
    "urn:portcullis:acr:phr",
];

impl Acr {
    pub fn as_str(self) -> &'static str {
        ACR_VALUES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Acr> {
        match s {
            "urn:portcullis:acr:pwd" => Some(Acr::Password),
            "urn:portcullis:acr:mfa" => Some(Acr::MultiFactor),
            "urn:portcullis:acr:phr" => Some(Acr::PhishingResistant),
            _ => None,
        }
    }

    /// The level an `acr_values` request asks for (OpenID Connect Core §3.1.2.1): any one
    /// of the listed values will do, so the weakest one we know. None when it names none
    /// of ours.
    pub fn requested(acr_values: &str) -> Option<Acr> {
        acr_values.split(' ').filter_map(Acr::parse).min()
    }
}

impl SignInMethod {
    /// RFC 8176 method references. `user` stands for the user verification the passkey
    /// required (WebAuthn does not say whether it was a PIN or a biometric).
    pub fn amr(self) -> Vec<&'static str> {
        match self {
            SignInMethod::Password => vec!["pwd"],
            SignInMethod::PasswordAndCode => vec!["pwd", "otp", "mfa"],
            SignInMethod::Passkey(k) => vec![k.amr(), "user", "mfa"],
            SignInMethod::PasswordAndPasskey(k) => vec!["pwd", k.amr(), "user", "mfa"],
        }
    }

    pub fn acr(self) -> Acr {
        match self {
            SignInMethod::Password => Acr::Password,
            SignInMethod::PasswordAndCode => Acr::MultiFactor,
            SignInMethod::Passkey(_) | SignInMethod::PasswordAndPasskey(_) => {
                Acr::PhishingResistant
            }
        }
    }

    /// The stored form: the `amr` values, space-separated.
    pub fn parse(stored: &str) -> SignInMethod {
        use KeyStorage::*;
        use SignInMethod::*;
        let all = [
            PasswordAndCode,
            Passkey(Hardware),
            Passkey(Software),
            PasswordAndPasskey(Hardware),
            PasswordAndPasskey(Software),
        ];
        all.into_iter()
            .find(|m| m.to_string() == stored)
            .unwrap_or(Password)
    }
}

impl fmt::Display for SignInMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.amr().join(" "))
    }
}

impl From<String> for SignInMethod {
    fn from(s: String) -> SignInMethod {
        SignInMethod::parse(&s)
    }
}

impl From<SignInMethod> for String {
    fn from(m: SignInMethod) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_stored_form() {
        use KeyStorage::*;
        for m in [
            SignInMethod::Password,
            SignInMethod::PasswordAndCode,
            SignInMethod::Passkey(Hardware),
            SignInMethod::Passkey(Software),
            SignInMethod::PasswordAndPasskey(Hardware),
            SignInMethod::PasswordAndPasskey(Software),
        ] {
            assert_eq!(SignInMethod::parse(&m.to_string()), m);
        }
    }

    #[test]
    fn an_unreadable_record_is_the_weakest_method() {
        assert_eq!(SignInMethod::parse("hwk mfa"), SignInMethod::Password);
        assert_eq!(SignInMethod::parse(""), SignInMethod::Password);
    }

    #[test]
    fn a_passkey_never_claims_a_password_and_always_two_factors() {
        let amr = SignInMethod::Passkey(KeyStorage::Software).amr();
        assert!(!amr.contains(&"pwd"));
        assert!(amr.contains(&"swk") && amr.contains(&"mfa"));
    }

    #[test]
    fn acr_values_ask_for_the_weakest_level_they_name() {
        assert_eq!(
            Acr::requested("urn:portcullis:acr:phr urn:portcullis:acr:mfa"),
            Some(Acr::MultiFactor)
        );
        assert_eq!(Acr::requested("urn:other 0"), None);
        assert_eq!(Acr::MultiFactor.as_str(), "urn:portcullis:acr:mfa");
        assert!(Acr::PhishingResistant > Acr::MultiFactor);
    }
}
