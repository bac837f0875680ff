//! The explicit pipeline API against the real server.

use crate::support::conn::{connect, table};

#[tokio::test]
async fn pipeline_mixes_statements_across_several_sync_windows() {
    let mut c = connect().await;
    let t = table("pl");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY, v text)"))
        .await
        .unwrap();
    let ins = c
        .prepare(&format!("INSERT INTO {t} VALUES ($1, $2)"))
        .await
        .unwrap();
    let sel = c
        .prepare(&format!("SELECT v FROM {t} WHERE id = $1"))
        .await
        .unwrap();
    let mut p = c.pipeline().await.unwrap();
    p.query(&ins, &[&1i32, &"one"]).unwrap();
    p.query(&ins, &[&2i32, &"two"]).unwrap();
    p.query(&sel, &[&2i32]).unwrap();
    p.sync().unwrap();
    p.query_sql(
        &format!("UPDATE {t} SET v = $1 WHERE id = $2"),
        &[&"uno", &1i32],
    )
    .unwrap();
    p.query_sql(&format!("SELECT count(*) FROM {t}"), &[])
        .unwrap();
    let out = p.finish().await.unwrap();
    assert_eq!(out.len(), 5);
    assert_eq!(out[0].as_ref().unwrap().rows_affected, Some(1));
    assert_eq!(
        out[2].as_ref().unwrap().rows[0].get::<&str>(0).unwrap(),
        "two"
    );
    assert_eq!(out[3].as_ref().unwrap().rows_affected, Some(1));
    assert_eq!(
        out[4].as_ref().unwrap().rows[0].get::<String>(0).unwrap(),
        "2"
    );
    assert!(c.is_idle());
}

#[tokio::test]
async fn an_error_mid_window_aborts_the_rest_of_it_and_the_next_window_succeeds() {
    let mut c = connect().await;
    let t = table("pl_err");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let ins = c
        .prepare(&format!("INSERT INTO {t} VALUES ($1)"))
        .await
        .unwrap();
    let mut p = c.pipeline().await.unwrap();
    p.query(&ins, &[&1i32]).unwrap();
    p.query(&ins, &[&1i32]).unwrap(); // duplicate
    p.query(&ins, &[&2i32]).unwrap();
    p.sync().unwrap();
    p.query(&ins, &[&3i32]).unwrap();
    p.sync().unwrap();
    let out = p.finish().await.unwrap();
    assert!(out[0].is_ok());
    assert_eq!(out[1].as_ref().unwrap_err().code(), Some("23505"));
    let aborted = out[2].as_ref().unwrap_err();
    assert!(aborted.is_pipeline_aborted(), "{aborted:?}");
    assert!(out[3].is_ok(), "the next window proceeds normally");
    let ids: Vec<i32> = c
        .query(format!("SELECT id FROM {t} ORDER BY id").as_str(), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    // One Sync = one implicit transaction: the first window rolled back entirely.
    assert_eq!(ids, vec![3]);
}

#[tokio::test]
async fn flush_without_sync_delivers_results_before_the_window_ends() {
    let mut c = connect().await;
    let s = c.prepare("SELECT $1::int4 * 10").await.unwrap();
    let mut p = c.pipeline().await.unwrap();
    p.query(&s, &[&4i32]).unwrap();
    p.flush().await.unwrap();
    // The result arrives although no Sync was sent yet.
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(r) = p.next_result_if_ready() {
                return r;
            }
            p.poll_io().await.unwrap();
        }
    })
    .await
    .expect("result before Sync");
    assert_eq!(first.unwrap().rows[0].get::<i32>(0).unwrap(), 40);
    p.query(&s, &[&5i32]).unwrap();
    let rest = p.finish().await.unwrap();
    assert_eq!(rest[0].as_ref().unwrap().rows[0].get::<i32>(0).unwrap(), 50);
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_dropped_pipeline_leaves_a_clean_connection() {
    let mut c = connect().await;
    let s = c.prepare("SELECT pg_sleep(0.05)").await.unwrap();
    {
        let mut p = c.pipeline().await.unwrap();
        p.query(&s, &[]).unwrap();
        p.flush().await.unwrap();
    }
    assert_eq!(
        c.query_one("SELECT 'ok'::text", &[])
            .await
            .unwrap()
            .get::<&str>(0)
            .unwrap(),
        "ok"
    );
}

/// Reads the next result without sending a Sync (after a `flush`).
async fn next_unsynced<S>(p: &mut pgline::conn::Pipeline<'_, S>) -> pgline::conn::PipelineOutput
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(r) = p.next_result_if_ready() {
                return r.expect("the statement succeeds");
            }
            p.poll_io().await.unwrap();
        }
    })
    .await
    .expect("a result before any Sync")
}

async fn count(t: &str) -> i64 {
    // From another connection: only committed rows are visible there.
    connect()
        .await
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

/// libpq_pipeline's "finish without sync" case: a statement flushed and read, then the
/// pipeline finished with nothing left unread. The INSERT the caller saw succeed must be
/// committed by `finish` (which sends the Sync that ends the implicit transaction), so a
/// later ROLLBACK on the same connection cannot take it back.
#[tokio::test]
async fn finish_after_every_result_was_read_still_syncs_and_commits_the_work() {
    let mut c = connect().await;
    let t = table("pl_nosync");
    c.batch_execute(&format!("CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    let mut p = c.pipeline().await.unwrap();
    p.query_sql(&format!("INSERT INTO {t} VALUES ($1)"), &[&1i32])
        .unwrap();
    p.flush().await.unwrap();
    assert_eq!(next_unsynced(&mut p).await.rows_affected, Some(1));
    let rest = p.finish().await.unwrap();
    assert!(rest.is_empty());
    assert!(c.is_idle());
    assert_eq!(count(&t).await, 1, "committed when finish returns");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(count(&t).await, 1, "ROLLBACK did not remove the INSERT");
}

#[tokio::test]
async fn a_pipeline_dropped_after_its_results_were_read_is_synced_before_the_next_operation() {
    let mut c = connect().await;
    let t = table("pl_drop_read");
    c.batch_execute(&format!("CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    {
        let mut p = c.pipeline().await.unwrap();
        p.query_sql(&format!("INSERT INTO {t} VALUES ($1)"), &[&1i32])
            .unwrap();
        p.flush().await.unwrap();
        assert_eq!(next_unsynced(&mut p).await.rows_affected, Some(1));
    }
    assert!(
        !c.is_idle(),
        "the server still holds the implicit transaction open"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    assert!(c.is_idle());
    assert_eq!(
        count(&t).await,
        1,
        "the Sync went first: ROLLBACK undid nothing"
    );
}

#[tokio::test]
async fn an_error_at_the_final_sync_for_results_already_read_is_returned_by_finish() {
    // A deferred unique constraint fails at commit, i.e. at the Sync finish sends, after
    // both INSERTs were handed out as successes: finish must not report success.
    let mut c = connect().await;
    let t = table("pl_deferred");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int, UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)"
    ))
    .await
    .unwrap();
    let mut p = c.pipeline().await.unwrap();
    for _ in 0..2 {
        p.query_sql(&format!("INSERT INTO {t} VALUES ($1)"), &[&1i32])
            .unwrap();
    }
    p.flush().await.unwrap();
    for _ in 0..2 {
        assert_eq!(next_unsynced(&mut p).await.rows_affected, Some(1));
    }
    let err = p.finish().await.unwrap_err();
    assert_eq!(err.code(), Some("23505"), "{err:?}");
    assert!(c.is_idle());
    assert_eq!(count(&t).await, 0, "the window rolled back");
    crate::support::conn::assert_answers(&mut c, 5).await;
}
