//! Behaviour of the API key store through its public API only.

use std::path::{Path, PathBuf};

use bulwark_store::{ApiKey, Store, StoreError};

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn create(store: &Store, name: &str) -> (ApiKey, String) {
    store
        .create_api_key(name, &scopes(&["tools:read"]), None)
        .unwrap_or_else(|e| panic!("create {name:?}: {e}"))
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("bulwark.db")
}

#[test]
fn created_key_verifies() {
    let store = Store::open_in_memory().unwrap();
    let (key, secret) = store
        .create_api_key(
            "deploy bot",
            &scopes(&["tools:read", "tools:destructive"]),
            Some("acme"),
        )
        .unwrap();

    assert!(secret.starts_with(&format!("bwk_{}_", key.id)), "{secret}");
    assert_eq!(secret.len(), 4 + 12 + 1 + 43);
    assert_eq!(key.name, "deploy bot");
    assert_eq!(key.scopes, scopes(&["tools:read", "tools:destructive"]));
    assert_eq!(key.tenant.as_deref(), Some("acme"));
    assert_eq!(key.revoked_at, None);
    assert_eq!(key.last_used_at, None);

    let verified = store.verify_api_key(&secret).unwrap().expect("verifies");
    assert_eq!(verified.id, key.id);
    assert_eq!(verified.scopes, key.scopes);
    assert_eq!(verified.tenant, key.tenant);
    assert!(verified.last_used_at.is_some(), "use is recorded");
    assert_eq!(
        store.list_api_keys().unwrap()[0].last_used_at,
        verified.last_used_at
    );
}

#[test]
fn wrong_secret_with_right_id_is_rejected() {
    let store = Store::open_in_memory().unwrap();
    let (_, secret) = create(&store, "a");
    // Same id, same shape, one character of the random part changed.
    let mut wrong = secret.clone().into_bytes();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    assert_ne!(wrong, secret);
    assert_eq!(store.verify_api_key(&wrong).unwrap(), None);

    // Another key's random part under this key's id.
    let (_, other) = create(&store, "b");
    let spliced = format!("{}{}", &secret[..17], &other[17..]);
    assert_eq!(store.verify_api_key(&spliced).unwrap(), None);

    // The real one still works.
    assert!(store.verify_api_key(&secret).unwrap().is_some());
}

#[test]
fn malformed_secrets_are_rejected_without_error() {
    let store = Store::open_in_memory().unwrap();
    let (key, secret) = create(&store, "a");
    let huge = "b".repeat(1 << 20);
    let huge_prefixed = format!("{secret}{huge}");
    let unicode = "bwk_ключ_🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑";
    let same_len_unicode = format!("bwk_{}é{}", &key.id[..11], &secret[17..]);
    let no_prefix = secret.trim_start_matches("bwk_").to_owned();
    let other_prefix = secret.replacen("bwk_", "bwx_", 1);
    let unknown_id = format!("bwk_000000000000{}", &secret[16..]);
    let padded = format!(" {secret}");
    let cases: Vec<&str> = vec![
        "",
        "bwk_",
        "bwk__",
        "bwk___",
        &huge,
        &huge_prefixed,
        unicode,
        &same_len_unicode,
        &no_prefix,
        &other_prefix,
        &unknown_id,
        &padded,
        &secret[..secret.len() - 1],
        "\0\0\0\0",
    ];
    for case in cases {
        let got = store.verify_api_key(case);
        let shown: String = case.chars().take(40).collect();
        assert!(
            matches!(got, Ok(None)),
            "{shown:?} gave {got:?} instead of Ok(None)"
        );
    }
}

#[test]
fn revoked_key_no_longer_verifies() {
    let store = Store::open_in_memory().unwrap();
    let (key, secret) = create(&store, "a");
    assert!(store.verify_api_key(&secret).unwrap().is_some());

    let revoked = store.revoke_api_key(&key.id).unwrap();
    assert_eq!(revoked.id, key.id);
    assert!(revoked.revoked_at.is_some());
    assert_eq!(store.verify_api_key(&secret).unwrap(), None);

    let again = store.revoke_api_key(&key.id).unwrap_err();
    assert!(
        matches!(again, StoreError::AlreadyRevoked { .. }),
        "{again}"
    );
}

#[test]
fn revoke_by_name_and_unknown_names() {
    let store = Store::open_in_memory().unwrap();
    let (key, secret) = create(&store, "ci");
    let revoked = store.revoke_api_key("ci").unwrap();
    assert_eq!(revoked.id, key.id);
    assert_eq!(store.verify_api_key(&secret).unwrap(), None);

    let err = store.revoke_api_key("ci").unwrap_err();
    assert!(matches!(err, StoreError::AlreadyRevoked { .. }), "{err}");

    let err = store.revoke_api_key("nope").unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"nope\""), "names what was asked: {msg}");
    assert!(
        msg.contains("bulwark auth key list"),
        "suggests listing: {msg}"
    );
}

#[test]
fn database_file_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut secrets = Vec::new();
    {
        let store = Store::open(&path).unwrap();
        for name in ["a", "b", "c"] {
            let (_, secret) = create(&store, name);
            assert!(store.verify_api_key(&secret).unwrap().is_some());
            secrets.push(secret);
        }
        store.revoke_api_key("b").unwrap();
        // Scan while the store is open too, so the WAL file is checked.
        assert_no_secret_in(path.parent().unwrap(), &secrets);
    }
    assert_no_secret_in(path.parent().unwrap(), &secrets);
}

fn assert_no_secret_in(dir: &Path, secrets: &[String]) {
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        for secret in secrets {
            let random_part = &secret[17..];
            for needle in [secret.as_str(), random_part] {
                assert!(
                    !contains(&bytes, needle.as_bytes()),
                    "{} contains {needle}",
                    path.display()
                );
            }
        }
    }
    assert!(scanned > 0, "nothing was written to {}", dir.display());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn duplicate_active_name_rejected_until_revoked() {
    let store = Store::open_in_memory().unwrap();
    let (first, first_secret) = create(&store, "ci");

    let err = store
        .create_api_key("ci", &scopes(&["x"]), None)
        .unwrap_err();
    match &err {
        StoreError::DuplicateName { name, id } => {
            assert_eq!(name, "ci");
            assert_eq!(id, &first.id);
        }
        other => panic!("expected DuplicateName, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("revoke") && msg.contains("another name"),
        "{msg}"
    );

    store.revoke_api_key("ci").unwrap();
    let (second, second_secret) = create(&store, "ci");
    assert_ne!(second.id, first.id);
    assert!(store.verify_api_key(&second_secret).unwrap().is_some());
    assert_eq!(store.verify_api_key(&first_secret).unwrap(), None);

    // The name now means the active key only.
    assert_eq!(store.revoke_api_key("ci").unwrap().id, second.id);
}

#[test]
fn scopes_and_names_are_validated() {
    let store = Store::open_in_memory().unwrap();
    for bad in [
        vec![],
        vec![""],
        vec!["Tools:Read"],
        vec!["tools read"],
        vec!["tools/read"],
        vec!["ok", "bad*"],
        vec!["é"],
    ] {
        let err = store
            .create_api_key("k", &scopes(&bad), None)
            .expect_err(&format!("accepted {bad:?}"));
        assert!(matches!(err, StoreError::InvalidScope { .. }), "{err}");
    }
    let long = "a".repeat(65);
    for bad in ["", long.as_str(), "a\nb", " lead", "0123456789ab"] {
        let err = store
            .create_api_key(bad, &scopes(&["x"]), None)
            .expect_err(&format!("accepted name {bad:?}"));
        assert!(matches!(err, StoreError::InvalidName { .. }), "{err}");
    }
    let err = store
        .create_api_key("k", &scopes(&["x"]), Some(""))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTenant { .. }), "{err}");
    assert!(
        store.list_api_keys().unwrap().is_empty(),
        "nothing invalid stored"
    );

    let (key, _) = store
        .create_api_key(
            "k",
            &scopes(&["tools:read", "a.b-c_d:0", "tools:read"]),
            None,
        )
        .unwrap();
    assert_eq!(key.scopes, scopes(&["tools:read", "a.b-c_d:0"]), "deduped");
}

#[test]
fn reopening_the_file_keeps_keys_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (key, secret) = {
        let store = Store::open(&path).unwrap();
        create(&store, "kept")
    };
    for _ in 0..2 {
        let store = Store::open(&path).unwrap();
        let listed = store.list_api_keys().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, key.id);
        assert_eq!(listed[0].name, "kept");
        assert_eq!(store.verify_api_key(&secret).unwrap().unwrap().id, key.id);
    }
}

#[test]
fn open_creates_private_file_in_new_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("bulwark.db");
    let store = Store::open(&path).unwrap();
    create(&store, "k");
    assert!(path.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "db file mode {mode:o}");
        let wal = path.with_extension("db-wal");
        if wal.exists() {
            let mode = std::fs::metadata(&wal).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "wal file mode {mode:o}");
        }
    }
}

#[test]
fn open_rejects_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulwark.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("move it aside"), "{err}");
}

#[test]
fn open_reports_an_unusable_path() {
    let dir = tempfile::tempdir().unwrap();
    // The path is a directory, so no database file can be opened there.
    let err = Store::open(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.path().display().to_string()),
        "names the path: {msg}"
    );
}

#[test]
fn two_handles_on_one_file_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let serve = Store::open(&path).unwrap();
    let cli = Store::open(&path).unwrap();

    // CLI creates, the running server verifies.
    let (key, secret) = create(&cli, "from-cli");
    assert_eq!(serve.verify_api_key(&secret).unwrap().unwrap().id, key.id);

    // Server creates, CLI lists.
    let (other, _) = create(&serve, "from-serve");
    let names: Vec<String> = cli
        .list_api_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["from-cli", "from-serve"]);

    // The name is taken across handles too.
    let err = serve
        .create_api_key("from-cli", &scopes(&["x"]), None)
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateName { .. }), "{err}");

    // CLI revokes; the server stops accepting within 100 ms (it looks for
    // other processes' changes that often).
    cli.revoke_api_key(&key.id).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(serve.verify_api_key(&secret).unwrap(), None);
    assert!(
        serve.list_api_keys().unwrap()[0].revoked_at.is_some(),
        "server sees the revocation"
    );
    assert!(cli.list_api_keys().unwrap()[1].id == other.id);
}

#[test]
fn concurrent_creates_from_two_handles_keep_names_unique() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let a = Store::open(&path).unwrap();
    let b = Store::open(&path).unwrap();
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|store| {
            std::thread::spawn(move || {
                (0..20)
                    .filter(|i| {
                        store
                            .create_api_key(&format!("k{i}"), &scopes(&["x"]), None)
                            .is_ok()
                    })
                    .count()
            })
        })
        .collect();
    let created: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let store = Store::open(&path).unwrap();
    assert_eq!(created, 20, "each name created exactly once");
    assert_eq!(store.list_api_keys().unwrap().len(), 20);
}

#[test]
fn list_is_in_creation_order_and_includes_revoked() {
    let store = Store::open_in_memory().unwrap();
    // Created within one second, so order cannot come from timestamps.
    let names = ["zeta", "alpha", "mid", "beta"];
    let ids: Vec<String> = names.iter().map(|n| create(&store, n).0.id).collect();
    store.revoke_api_key("alpha").unwrap();

    let listed = store.list_api_keys().unwrap();
    let listed_names: Vec<&str> = listed.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(listed_names, names);
    let listed_ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(listed_ids, ids);
    let revoked: Vec<bool> = listed.iter().map(|k| k.revoked_at.is_some()).collect();
    assert_eq!(revoked, [false, true, false, false]);
}

#[test]
fn clones_share_one_store() {
    let store = Store::open_in_memory().unwrap();
    let clone = store.clone();
    let (_, secret) = create(&clone, "k");
    assert!(store.verify_api_key(&secret).unwrap().is_some());
    let handle = std::thread::spawn(move || clone.verify_api_key(&secret).unwrap().is_some());
    assert!(handle.join().unwrap());
}

/// Verified keys are remembered, but a revocation committed by another
/// connection (another process sharing the file) ends that at once.
#[test]
fn revocation_by_another_connection_beats_the_verified_key_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulwark.db");
    let server = bulwark_store::Store::open(&path).unwrap();
    let cli = bulwark_store::Store::open(&path).unwrap();
    let (_, secret) = cli.create_api_key("ci", &["mcp".to_owned()], None).unwrap();
    for _ in 0..3 {
        assert!(server.verify_api_key(&secret).unwrap().is_some());
    }
    cli.revoke_api_key("ci").unwrap();
    // Other processes' changes are looked for every 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert!(
        server.verify_api_key(&secret).unwrap().is_none(),
        "a key revoked elsewhere must stop verifying on the next request"
    );
    // A wrong secret with the same id never verifies, cached or not.
    let (_, other) = cli
        .create_api_key("ci2", &["mcp".to_owned()], None)
        .unwrap();
    assert!(server.verify_api_key(&other).unwrap().is_some());
    let mut forged = other.clone();
    forged.pop();
    forged.push(if other.ends_with('A') { 'B' } else { 'A' });
    assert!(server.verify_api_key(&forged).unwrap().is_none());
}

#[test]
fn audit_lines_are_copied_once_and_bad_batches_store_nothing() {
    let store = bulwark_store::Store::open_in_memory().unwrap();
    let a = r#"{"seq":1,"hash":"aa","time":"2026-01-01T00:00:00Z","event_type":"tool_call","user":"u","tenant":"t"}"#;
    let b = r#"{"seq":2,"hash":"bb","time":"2026-01-01T00:00:01Z","event_type":"auth.login","user":"v"}"#;
    assert_eq!(store.insert_audit_lines(&[a, b]).unwrap(), 2);
    // The same records again (a writer retrying a batch) are skipped.
    assert_eq!(store.insert_audit_lines(&[a]).unwrap(), 0);
    // One bad line fails the whole batch.
    let c = r#"{"seq":3,"hash":"cc","time":"2026-01-01T00:00:02Z","event_type":"tool_call"}"#;
    assert!(store.insert_audit_lines(&[c, "not json"]).is_err());
    assert!(store.insert_audit_lines(&[r#"{"seq":4}"#]).is_err());
    let all = store
        .search_audit(&bulwark_store::AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all, vec![b.to_string(), a.to_string()]);
    let logins = store
        .search_audit(&bulwark_store::AuditQuery {
            event_type: Some("auth.login".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(logins, vec![b.to_string()]);
}
