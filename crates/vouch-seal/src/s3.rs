//! A minimal S3 client for WORM storage: PutObject with Object Lock (COMPLIANCE mode,
//! retain-until, optional legal hold) and a SHA-256 checksum, HeadObject, GetObject.
//! AWS Signature Version 4 over ureq, path-style addressing. It replaces the AWS SDK,
//! whose build would cost several minutes for the four calls vouch makes.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// An S3 client for one bucket (path-style, Signature Version 4).
pub struct S3 {
    /// `scheme://host[:port]`
    endpoint: String,
    region: String,
    /// The bucket.
    pub bucket: String,
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    agent: ureq::Agent,
}

/// What HeadObject says of an object.
pub struct Head {
    /// The object's version id.
    pub version_id: Option<String>,
    /// Object Lock mode (`COMPLIANCE`, `GOVERNANCE`).
    pub lock_mode: Option<String>,
    /// Object Lock retain-until date.
    pub retain_until: Option<String>,
    /// Legal hold status (`ON`, `OFF`).
    pub legal_hold: Option<String>,
    /// Object size in bytes.
    pub size: u64,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept in paths).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl S3 {
    /// From the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    /// AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    pub fn from_env(bucket: &str) -> Result<S3, String> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let access_key = var("AWS_ACCESS_KEY_ID")
            .ok_or("AWS_ACCESS_KEY_ID is not set (S3 credentials come from the environment)")?;
        let secret_key = var("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?;
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = var("AWS_ENDPOINT_URL_S3")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"))
            .trim_end_matches('/')
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(std::time::Duration::from_secs(15)))
            .build()
            .into();
        Ok(S3 {
            endpoint,
            region,
            bucket: bucket.to_string(),
            access_key,
            secret_key,
            session_token: var("AWS_SESSION_TOKEN"),
            agent,
        })
    }

    fn host(&self) -> &str {
        self.endpoint
            .split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(&self.endpoint)
    }

    fn path(&self, key: &str) -> String {
        format!(
            "/{}/{}",
            uri_encode(&self.bucket, false),
            uri_encode(key, true)
        )
    }

    /// Signed headers for a request (SigV4).
    fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        mut headers: BTreeMap<String, String>,
        payload_sha: &str,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let date = now.format("%Y%m%d").to_string();
        headers.insert("host".into(), self.host().to_string());
        headers.insert("x-amz-date".into(), amz_date.clone());
        headers.insert("x-amz-content-sha256".into(), payload_sha.to_string());
        if let Some(t) = &self.session_token {
            headers.insert("x-amz-security-token".into(), t.clone());
        }
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let signed: Vec<&str> = headers.keys().map(String::as_str).collect();
        let signed = signed.join(";");
        let canonical =
            format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload_sha}");
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let k = hmac(format!("AWS4{}", self.secret_key).as_bytes(), &date);
        let k = hmac(&k, &self.region);
        let k = hmac(&k, "s3");
        let k = hmac(&k, "aws4_request");
        let sig = hex::encode(hmac(&k, &to_sign));
        headers.insert(
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
                self.access_key
            ),
        );
        headers.remove("host");
        headers
    }

    fn error(&self, what: &str, key: &str, status: u16, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let code = text
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or("");
        let msg = text
            .split("<Message>")
            .nth(1)
            .and_then(|s| s.split("</Message>").next())
            .unwrap_or("");
        format!(
            "S3 {what} s3://{}/{key}: HTTP {status} {code} {msg}",
            self.bucket
        )
        .trim()
        .to_string()
    }

    /// PutObject of a local file with Object Lock in COMPLIANCE mode until `retain_until`.
    pub fn put_locked(
        &self,
        key: &str,
        file: &std::path::Path,
        sha256_hex: &str,
        retain_until: DateTime<Utc>,
        legal_hold: bool,
    ) -> Result<Option<String>, String> {
        let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let size = f.metadata().map_err(|e| e.to_string())?.len();
        let sha_bytes = hex::decode(sha256_hex).map_err(|e| e.to_string())?;
        let mut h = BTreeMap::new();
        h.insert("content-length".to_string(), size.to_string());
        h.insert(
            "x-amz-checksum-sha256".to_string(),
            vouch_core::b64(&sha_bytes),
        );
        // S3 requires a checksum algorithm (or Content-MD5) on Object Lock uploads.
        h.insert(
            "x-amz-sdk-checksum-algorithm".to_string(),
            "SHA256".to_string(),
        );
        h.insert(
            "x-amz-object-lock-mode".to_string(),
            "COMPLIANCE".to_string(),
        );
        h.insert(
            "x-amz-object-lock-retain-until-date".to_string(),
            retain_until.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        if legal_hold {
            h.insert("x-amz-object-lock-legal-hold".to_string(), "ON".to_string());
        }
        let path = self.path(key);
        let headers = self.sign("PUT", &path, "", h, sha256_hex, Utc::now());
        let mut req = self.agent.put(format!("{}{path}", self.endpoint));
        for (k, v) in &headers {
            if k != "content-length" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        let mut resp = req
            .send(&f)
            .map_err(|e| format!("S3 PUT s3://{}/{key}: {e}", self.bucket))?;
        let status = resp.status().as_u16();
        let version = resp
            .headers()
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !(200..300).contains(&status) {
            let body = resp.body_mut().read_to_vec().unwrap_or_default();
            return Err(self.error("PUT", key, status, &body));
        }
        Ok(version)
    }

    /// HeadObject: `None` when the object does not exist.
    pub fn head(&self, key: &str) -> Result<Option<Head>, String> {
        let path = self.path(key);
        let empty = hex::encode(Sha256::digest(b""));
        let headers = self.sign("HEAD", &path, "", BTreeMap::new(), &empty, Utc::now());
        let mut req = self.agent.head(format!("{}{path}", self.endpoint));
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req
            .call()
            .map_err(|e| format!("S3 HEAD s3://{}/{key}: {e}", self.bucket))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(self.error("HEAD", key, status, b""));
        }
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(Some(Head {
            version_id: h("x-amz-version-id"),
            lock_mode: h("x-amz-object-lock-mode"),
            retain_until: h("x-amz-object-lock-retain-until-date"),
            legal_hold: h("x-amz-object-lock-legal-hold"),
            size: h("content-length")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        }))
    }

    /// GetObject as a stream.
    pub fn get(&self, key: &str) -> Result<Box<dyn std::io::Read + Send>, String> {
        let path = self.path(key);
        let empty = hex::encode(Sha256::digest(b""));
        let headers = self.sign("GET", &path, "", BTreeMap::new(), &empty, Utc::now());
        let mut req = self.agent.get(format!("{}{path}", self.endpoint));
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req
            .call()
            .map_err(|e| format!("S3 GET s3://{}/{key}: {e}", self.bucket))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = resp.body_mut().read_to_vec().unwrap_or_default();
            return Err(self.error("GET", key, status, &body));
        }
        Ok(Box::new(resp.into_body().into_reader()))
    }
}

#[cfg(test)]
mod tests {
    /// The signing-key derivation of the AWS SigV4 documentation's example.
    #[test]
    fn signing_key_vector() {
        let k = super::hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215");
        let k = super::hmac(&k, "us-east-1");
        let k = super::hmac(&k, "iam");
        let k = super::hmac(&k, "aws4_request");
        assert_eq!(
            hex::encode(k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
