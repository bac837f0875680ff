//! Using pgline with InterSystems IRIS through its PostgreSQL wire-protocol server
//! (iris-pgwire).
//!
//! ```text
//! cargo run --example iris [-- postgres://_SYSTEM:SYS@localhost:5432/USER]
//! ```
//!
//! The URL comes from the first argument, else `DATABASE_URL`, else
//! `postgres://_SYSTEM@localhost:5432/USER`. The example needs a real IRIS behind
//! iris-pgwire (the `VECTOR` part does not run on the test suite's sqlite stand-in).
//!
//! pgline recognises IRIS from the server's `server_version` and switches on its IRIS
//! profile by itself: `$n` placeholders are renumbered for IRIS's positional binding,
//! values go as text, empty queries are answered locally, and row counts IRIS cannot
//! report reliably come back as `None` instead of a made-up number.
//!
//! It does three things:
//! 1. creates a table and bulk-loads 10,000 rows with `execute_many` (pipelined
//!    inserts; the report says which rows are committed and which failed),
//! 2. creates a table with a `VECTOR(DOUBLE, 3)` column and inserts embeddings bound as
//!    [`Vector`] through `TO_VECTOR`,
//! 3. runs a cosine-similarity search for the three nearest rows.

use pgline::types::Vector;
use pgline::{Config, Connection, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "postgres://_SYSTEM@localhost:5432/USER".to_owned());
    let mut conn = Connection::connect(&Config::parse(&url)?).await?;
    println!(
        "connected: server_version {:?}, IRIS profile: {}",
        conn.parameter("server_version").unwrap_or("?"),
        conn.quirks().positional_placeholders
    );

    // 1. A table and a bulk load. Per-row failures (a duplicate key, say) are in the
    //    report, not an `Err`; an `Err` means the connection itself failed.
    for sql in ["DROP TABLE people", "DROP TABLE docs"] {
        // Not there the first time: IRIS has no DROP TABLE IF EXISTS, ignore the error.
        let _ = conn.simple_query(sql).await;
    }
    conn.simple_query(
        "CREATE TABLE people (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE)",
    )
    .await?;
    let rows = (0..10_000i64).map(|i| (i, format!("person {i}"), i as f64 / 4.0));
    let report = conn
        .execute_many(
            "INSERT INTO people (id, name, score) VALUES ($1, $2, $3)",
            rows,
        )
        .await?;
    println!("bulk load: {report}");
    if let Some(failure) = report.first_failure() {
        println!("first failure: rows {:?}: {}", failure.rows, failure.error);
    }
    let n: i64 = conn
        .query_one("SELECT COUNT(*) FROM people", &[])
        .await?
        .get(0)?;
    println!("people: {n} rows");

    // 2. Vectors: IRIS has no wire type for VECTOR, so a `Vector` is sent as its text
    //    form `[a,b,c]` and TO_VECTOR parses it on the server.
    conn.simple_query("CREATE TABLE docs (id INT, embedding VECTOR(DOUBLE, 3))")
        .await?;
    let docs = [
        (1, [1.0, 0.0, 0.0]),
        (2, [0.0, 1.0, 0.0]),
        (3, [0.7, 0.7, 0.0]),
        (4, [0.0, 0.0, 1.0]),
        (5, [0.9, 0.1, 0.1]),
    ];
    for (id, e) in docs {
        conn.execute(
            "INSERT INTO docs (id, embedding) VALUES ($1, TO_VECTOR($2, DOUBLE))",
            &[&id, &Vector::from(e.to_vec())],
        )
        .await?;
    }

    // 3. The three documents most similar to the query vector.
    let query = Vector::from(vec![1.0, 0.2, 0.0]);
    let nearest = conn
        .query(
            "SELECT TOP 3 id FROM docs \
             ORDER BY VECTOR_COSINE(embedding, TO_VECTOR($1, DOUBLE)) DESC",
            &[&query],
        )
        .await?;
    let ids = nearest
        .iter()
        .map(|r| r.get::<i32>(0))
        .collect::<Result<Vec<_>, _>>()?;
    println!("nearest to {query:?}: {ids:?}");

    conn.close().await
}
