//! Signing in to a Milvus with authentication on (`.ci/run` restarts its server with
//! `common.security.authorizationEnabled=true`; its address in `ARBOR_MILVUS_AUTH`). Ignored by
//! plain `cargo test`.

use arbor_milvus::{Collection, Layout, MilvusError, MilvusUrl, PhotoRow};

fn url(credentials: &str) -> MilvusUrl {
    let server = std::env::var("ARBOR_MILVUS_AUTH").expect("ARBOR_MILVUS_AUTH=HOST:PORT of a Milvus with auth on");
    format!("milvus://{credentials}{server}/arbor_auth_{}", std::process::id()).parse().unwrap()
}

#[test]
#[ignore = "needs a Milvus server with authentication on: run by .ci/run (ARBOR_MILVUS_AUTH=127.0.0.1:19530)"]
fn credentials_are_sent_and_refusals_are_named_without_the_password() {
    // No credentials, and a wrong password: refused, saying how to sign in, never echoing it.
    for (given, shown) in [("", "milvus://127.0.0.1"), ("root:wrong-secret@", "milvus://root@127.0.0.1")] {
        let u = url(given);
        let e = Collection::create_or_open(&u, 4, "m", Layout::default()).err().unwrap();
        assert!(matches!(e, MilvusError::Auth { .. }), "{e:?}");
        let message = e.to_string();
        assert!(message.starts_with(shown) && message.contains("MILVUS_TOKEN"), "{message}");
        assert!(!message.contains("wrong-secret"), "{message}");
    }
    // The default root account (as the server starts): in the URL, or from the environment.
    let (c, created) = Collection::create_or_open(&url("root:Milvus@"), 4, "m", Layout::default()).unwrap();
    assert!(created);
    let row = PhotoRow { path: "/a.jpg".into(), vector: vec![1.0, 0.0, 0.0, 0.0], lineage: None };
    assert_eq!(c.insert(&[row]).unwrap(), 1);
    assert_eq!(c.count().unwrap(), 1);
    let from_env = url("").or_credentials(Some("root:Milvus".into()));
    assert_eq!(Collection::open(&from_env, 4, "m").unwrap().count().unwrap(), 1);
}
