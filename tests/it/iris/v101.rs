//! pgline against the unmodified iris-pgwire **1.0.1** (the second published release the
//! suite runs; `tests/iris/requirements-1.0.1.txt`), where it behaves differently from
//! 1.7.3. Every test uses its own table.

use crate::support::conn::table;
use crate::support::iris::{connect_release, Release};

#[tokio::test]
async fn the_second_release_is_1_0_1_with_its_own_dml_tags_and_error_codes() {
    let mut c = connect_release(Release::V1_0_1).await;
    assert!(c.quirks().positional_placeholders, "IRIS profile detected");
    let t = table("iris101_tags");
    c.simple_query(&format!("CREATE TABLE {t} (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let r = c
        .simple_query(&format!("INSERT INTO {t} (id) VALUES (1)"))
        .await
        .unwrap();
    // 1.7.3 says `INSERT 0 1`; 1.0.1 always three numbers, all 0.
    assert_eq!(r[0].tag.as_deref(), Some("INSERT 0 0 0"));
    let e = c
        .simple_query(&format!("INSERT INTO {t} (id) VALUES (1)"))
        .await
        .unwrap_err();
    let db = e.as_db_error().expect("a server error");
    // 1.7.3 classifies this as 23505; 1.0.1 sends 42000 for every IRIS error.
    assert_eq!(db.code(), "42000");
    assert!(db.message().contains("SQLCODE: <-119>"), "{}", db.message());
}
