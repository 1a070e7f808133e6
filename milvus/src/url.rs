//! `milvus://[USER:PASSWORD@]HOST[:PORT]/COLLECTION`: where a collection is.

use crate::MilvusError;

/// Where a collection is: `milvus://[USER:PASSWORD@]HOST[:PORT]/NAME` (port 19530 by default).
/// Shown, the password is left out, so errors and logs never carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct MilvusUrl {
    /// Host name or address.
    pub host: String,
    /// Port of the server (19530 by default).
    pub port: u16,
    /// The collection's name.
    pub collection: String,
    /// `user:password` (or an API token) for a server with authentication on.
    credentials: Option<String>,
}

impl std::fmt::Debug for MilvusUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MilvusUrl({self})")
    }
}

impl std::str::FromStr for MilvusUrl {
    type Err = MilvusError;
    fn from_str(s: &str) -> Result<Self, MilvusError> {
        let bad = || MilvusError::Url(redact(s));
        let rest = s.strip_prefix("milvus://").ok_or_else(bad)?;
        let (authority, collection) = rest.split_once('/').ok_or_else(bad)?;
        let (credentials, authority) = match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => (Some(userinfo.to_owned()), host),
            Some(_) => return Err(bad()),
            None => (None, authority),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, 19530),
        };
        // Milvus's collection names: a letter or underscore, then letters, digits, underscores.
        let name_ok = collection.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && collection.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if host.is_empty() || !name_ok {
            return Err(bad());
        }
        Ok(MilvusUrl { host: host.to_owned(), port, collection: collection.to_owned(), credentials })
    }
}

impl std::fmt::Display for MilvusUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = match self.credentials.as_deref().and_then(|c| c.split_once(':')) {
            Some((user, _)) if !user.is_empty() => format!("{user}@"),
            _ => String::new(),
        };
        write!(f, "milvus://{user}{}:{}/{}", self.host, self.port, self.collection)
    }
}

impl MilvusUrl {
    /// Whether `s` names a Milvus collection (rather than a local folder).
    pub fn is_milvus(s: &str) -> bool {
        s.starts_with("milvus://")
    }

    /// The same place, signing in with `credentials` (`user:password`, or a token) unless the
    /// URL names its own.
    pub fn or_credentials(mut self, credentials: Option<String>) -> MilvusUrl {
        if self.credentials.is_none() {
            self.credentials = credentials.filter(|c| !c.is_empty());
        }
        self
    }

    /// What the client signs in with, if anything.
    pub(crate) fn credentials(&self) -> Option<&str> {
        self.credentials.as_deref()
    }
}

/// `s` with any password taken out (for an error about a URL that does not parse).
fn redact(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &s[scheme + 3..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{}{user}:***{}", &s[..scheme + 3], &s[at..])
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_and_collection() {
        let u: MilvusUrl = "milvus://127.0.0.1:19531/my_photos".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port, u.collection.as_str()), ("127.0.0.1", 19531, "my_photos"));
        assert_eq!(u.to_string(), "milvus://127.0.0.1:19531/my_photos");
        assert_eq!(u.credentials(), None);
        assert_eq!("milvus://db/p".parse::<MilvusUrl>().unwrap().port, 19530);
        for bad in [
            "http://h:1/c",
            "milvus://h:1",
            "milvus://h:x/c",
            "milvus://h:1/9c",
            "milvus://h:1/a-b",
            "milvus://:1/c",
            "milvus://nopassword@h:1/c",
        ] {
            assert!(bad.parse::<MilvusUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_used_but_never_shown() {
        let u: MilvusUrl = "milvus://root:s3cret@db.lab:19530/survey".parse().unwrap();
        assert_eq!(u.credentials(), Some("root:s3cret"));
        assert_eq!(u.host, "db.lab");
        assert_eq!(u.to_string(), "milvus://root@db.lab:19530/survey");
        assert!(!format!("{u:?}").contains("s3cret"));
        // The URL's own credentials win over the environment's.
        assert_eq!(u.clone().or_credentials(Some("other:pw".into())).credentials(), Some("root:s3cret"));
        let plain: MilvusUrl = "milvus://db/p".parse().unwrap();
        assert_eq!(plain.or_credentials(Some("tok:en".into())).credentials(), Some("tok:en"));
        let e = "milvus://root:s3cret@h:x/c".parse::<MilvusUrl>().unwrap_err().to_string();
        assert!(e.contains("root:***@h:x/c") && !e.contains("s3cret"), "{e}");
    }
}
