//! Reads 1,000,000 rows of (int8, text, float8) through pgline, for profiling the read
//! path: `cargo run --release --example read_bench`.

use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::{Config, Connection};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cluster = TempCluster::start(ClusterOptions::default()).expect("cluster");
    let mut cfg = Config::new();
    cfg.host(cluster.host())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres");
    let mut c = Connection::connect(&cfg).await.expect("connect");
    let s = c
        .prepare("SELECT g::int8, 'row ' || g, g * 0.5::float8 FROM generate_series(1, 1000000) g")
        .await
        .expect("prepare");
    for chunk in [10_000, 0, 10_000, 0, 10_000, 0] {
        let t = std::time::Instant::now();
        let mut st = c.query_stream(&s, &[], chunk).await.expect("stream");
        let mut sum = 0i64;
        while let Some(r) = st.next().await.expect("row") {
            sum += r.get::<i64>(0).expect("id");
            let _ = r.get::<&str>(1).expect("text");
            let _ = r.get::<f64>(2).expect("float");
        }
        assert_eq!(sum, 500_000_500_000);
        println!("chunk {chunk}: 1M rows in {:?}", t.elapsed());
    }
    cluster.stop();
}
