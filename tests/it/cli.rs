//! The `pgline` command-line tool: exit codes, the summary line, errors that name the
//! failing input line and SQLSTATE, and `load` modes that load the same bytes.

use std::io::Write;
use std::process::{Command, Output};

use crate::support::conn::{connect, table};

fn url() -> String {
    crate::support::server().url("postgres", None, "postgres")
}

fn pgline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run pgline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn csv_file(rows: &[String]) -> tempfile_path::TempPath {
    let p = tempfile_path::TempPath::new("csv");
    let mut f = std::fs::File::create(&p.0).unwrap();
    for r in rows {
        writeln!(f, "{r}").unwrap();
    }
    p
}

fn bytes_file(data: &[u8]) -> tempfile_path::TempPath {
    let p = tempfile_path::TempPath::new("dat");
    std::fs::write(&p.0, data).unwrap();
    p
}

/// `pgline load --url .. --table t --format <format> --mode <mode> [extra..] <file>`.
fn load(t: &str, format: &str, mode: &str, extra: &[&str], file: &str) -> Output {
    let url = url();
    let mut args = vec![
        "load", "--url", &url, "--table", t, "--format", format, "--mode", mode,
    ];
    args.extend_from_slice(extra);
    args.push(file);
    pgline(&args)
}

/// `(id, v)` of every row, `v` as its UTF-8 bytes, by id.
async fn id_and_bytes(c: &mut pgline::Connection, t: &str) -> Vec<(i32, Option<Vec<u8>>)> {
    c.query(
        format!("SELECT id, convert_to(v, 'UTF8') FROM {t} ORDER BY id").as_str(),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
    .collect()
}

async fn count(c: &mut pgline::Connection, t: &str) -> i64 {
    c.query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

mod tempfile_path {
    /// A file path removed on drop.
    pub(super) struct TempPath(pub(super) std::path::PathBuf);

    impl TempPath {
        pub(super) fn new(ext: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            Self(std::env::temp_dir().join(format!("pgline-cli-{}-{n}.{ext}", std::process::id())))
        }
        pub(super) fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test]
async fn load_by_copy_and_by_pipeline_prints_the_summary_and_exits_zero() {
    let mut c = connect().await;
    for mode in ["copy", "pipeline", "auto"] {
        let t = table("cli_load");
        c.batch_execute(&format!(
            "CREATE TABLE {t} (id int8, name text, score float8)"
        ))
        .await
        .unwrap();
        let mut rows = vec!["id,name,score".to_string()];
        rows.extend((0..1000).map(|i| format!("{i},\"name, {i}\",{}.5", i % 7)));
        rows.push("1000,,".into()); // NULLs
        let f = csv_file(&rows);
        let out = pgline(&[
            "load",
            "--url",
            &url(),
            "--table",
            &t,
            "--header",
            "--mode",
            mode,
            f.as_str(),
        ]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {}{}",
            stdout,
            text(&out.stderr)
        );
        let via = if mode == "pipeline" {
            "pipeline"
        } else {
            "copy"
        };
        assert!(stdout.starts_with("loaded 1001 rows in "), "{stdout}");
        assert!(
            stdout.trim_end().ends_with(&format!("rows/s) via {via}")),
            "{stdout}"
        );
        let n = c
            .query_one(
                format!("SELECT count(*), count(name) FROM {t}").as_str(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(n.get::<i64>(0).unwrap(), 1001);
        assert_eq!(n.get::<i64>(1).unwrap(), 1000, "the empty field is NULL");
        let r = c
            .query_one(format!("SELECT name FROM {t} WHERE id = 5").as_str(), &[])
            .await
            .unwrap();
        assert_eq!(r.get::<&str>(0).unwrap(), "name, 5");
    }
}

#[tokio::test]
async fn load_failure_exits_one_and_names_the_line_and_sqlstate() {
    let mut c = connect().await;
    let t = table("cli_bad");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let f = csv_file(&["1".into(), "2".into(), "2".into(), "3".into()]);
    let out = pgline(&[
        "load",
        "--url",
        &url(),
        "--table",
        &t,
        "--mode",
        "pipeline",
        f.as_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3 failed"), "{err}");
    assert!(err.contains("23505"), "{err}");
    let n = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(
        n.get::<i64>(0).unwrap(),
        0,
        "one transaction: nothing committed"
    );
}

/// The text-format file of `pipeline_and_copy_load_byte_identical_tables`: every escape
/// of COPY's text format, and what it decodes to.
const ESCAPES_TSV: &[u8] = b"id\tv\n\
1\t\\b\\f\\n\\r\\t\\v\\\\\n\
2\t\\101\\60\\7\\1011\\303\\251\n\
3\t\\x41\\x4a\\x4A\\x7\\x41F\\xe2\\x82\\xac\\x\\xG\n\
4\t\\N\n\
5\t\n\
6\ta\\Nb\\q\\:\n\
7\tescaped\\\nline break\n\
8\t\xc3\x9cn\xc3\xafc\xc3\xb6d\xc3\xa9 \xe2\x9c\x93\n\
9\t\\\\N\n\
\\.\n\
this line follows the end-of-data marker and is not loaded\n";

fn escapes_tsv_values() -> Vec<(i32, Option<Vec<u8>>)> {
    let v = |b: &[u8]| Some(b.to_vec());
    vec![
        (1, v(b"\x08\x0c\n\r\t\x0b\\")),
        (2, v("A0\x07A1é".as_bytes())),
        (3, v("AJJ\x07AF€xxG".as_bytes())),
        (4, None),
        (5, v(b"")),
        (6, v(b"aNbq:")),
        (7, v(b"escaped\nline break")),
        (8, v("Ünïcödé ✓".as_bytes())),
        (9, v(b"\\N")),
    ]
}

/// The CSV rows of `pipeline_and_copy_load_byte_identical_tables` (to be joined by a line
/// ending), and what they hold.
const QUOTES_CSV: &[&[u8]] = &[
    b"id,v",
    b"1,\"crlf\r\ninside\"",
    b"2,",
    b"3,\"\"",
    b"4,\"say \"\"hi\"\", ok\"",
    b"5,\"multi\nline\nvalue\"",
    b"6,\\N",
    b"7,a\"b,c\"d",
    b"8, spaces ",
    b"9,\xc3\xa9",
    b"10,\"\\.\"",
];

fn quotes_csv_values() -> Vec<(i32, Option<Vec<u8>>)> {
    let v = |b: &[u8]| Some(b.to_vec());
    vec![
        (1, v(b"crlf\r\ninside")),
        (2, None),
        (3, v(b"")),
        (4, v(b"say \"hi\", ok")),
        (5, v(b"multi\nline\nvalue")),
        (6, v(b"\\N")),
        // COPY starts a quoted part at any quote.
        (7, v(b"ab,cd")),
        (8, v(b" spaces ")),
        (9, v("é".as_bytes())),
        (10, v(b"\\.")),
    ]
}

/// Issue 14: the pipeline's reader turned `\b`, octal and hex escapes into letters, lost
/// the CR of a quoted CRLF, and could not tell `""` from NULL. Each file is loaded both
/// ways; the tables must hold the same bytes, and the bytes COPY's docs promise.
#[tokio::test]
async fn pipeline_and_copy_load_byte_identical_tables() {
    let mut c = connect().await;
    let files = [
        ("tsv", ESCAPES_TSV.to_vec(), escapes_tsv_values()),
        ("csv", QUOTES_CSV.join(&b"\n"[..]), quotes_csv_values()),
        ("csv", QUOTES_CSV.join(&b"\r\n"[..]), quotes_csv_values()),
    ];
    for (format, data, expected) in files {
        let f = bytes_file(&data);
        let mut loaded = Vec::new();
        for mode in ["copy", "pipeline"] {
            let t = table("cli_same");
            c.batch_execute(&format!("CREATE TABLE {t} (id int, v text)"))
                .await
                .unwrap();
            let out = load(&t, format, mode, &["--header"], f.as_str());
            assert!(
                out.status.success(),
                "{format} {mode}: {}",
                text(&out.stderr)
            );
            let n = expected.len();
            assert!(
                text(&out.stdout).starts_with(&format!("loaded {n} rows ")),
                "{format} {mode}: {}",
                text(&out.stdout)
            );
            let rows = id_and_bytes(&mut c, &t).await;
            assert_eq!(rows, expected, "{format} via {mode}");
            loaded.push(rows);
        }
        assert_eq!(loaded[0], loaded[1], "{format}: copy and pipeline differ");
    }
}

/// Issue 14: with invalid UTF-8 on a late line, the pipeline used to commit the rows
/// before it. 29,999 good rows are more than one row window (16,384), so many of them are
/// already inserted when the bad line is read; none may stay.
#[tokio::test]
async fn invalid_utf8_names_its_line_and_commits_nothing_in_either_mode() {
    let mut c = connect().await;
    let mut data = Vec::new();
    for i in 1..=40_000 {
        data.extend_from_slice(format!("{i},row {i}").as_bytes());
        if i == 30_000 {
            data.extend_from_slice(b" \xff");
        }
        data.push(b'\n');
    }
    let f = bytes_file(&data);
    for mode in ["pipeline", "copy"] {
        let t = table("cli_utf8");
        c.batch_execute(&format!("CREATE TABLE {t} (id int, v text)"))
            .await
            .unwrap();
        let out = load(&t, "csv", mode, &[], f.as_str());
        assert_eq!(out.status.code(), Some(1), "{mode}");
        let err = text(&out.stderr);
        assert!(
            err.contains("invalid byte sequence for encoding \"UTF8\": 0xff"),
            "{mode}: {err}"
        );
        let line = if mode == "copy" {
            format!("CONTEXT: COPY {t}, line 30000")
        } else {
            "line 30000: ".to_string()
        };
        assert!(err.contains(&line), "{mode}: {err}");
        assert!(err.contains("nothing was committed"), "{mode}: {err}");
        assert_eq!(count(&mut c, &t).await, 0, "{mode}: rows were committed");
    }
}

/// Issue 14: a COPY error said what was wrong but not where; the server's CONTEXT names
/// the line and column.
#[tokio::test]
async fn copy_error_quotes_the_servers_context_line() {
    let mut c = connect().await;
    let t = table("cli_ctx");
    c.batch_execute(&format!("CREATE TABLE {t} (id int, b int)"))
        .await
        .unwrap();
    let f = bytes_file(b"1,1\n2,2\n3,x\n4,4\n");
    let out = load(&t, "csv", "copy", &[], f.as_str());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("22P02"), "{err}");
    assert!(
        err.contains(&format!("CONTEXT: COPY {t}, line 3, column b: \"x\"")),
        "{err}"
    );
    assert!(err.contains("nothing was committed"), "{err}");
    assert_eq!(count(&mut c, &t).await, 0);
}

/// Issue 14: "row 1233 failed ... first failure at row 1232". Both modes now name the
/// input line, counted as COPY counts it: the header and the lines of a quoted value
/// included.
#[tokio::test]
async fn both_modes_name_the_failing_row_by_its_input_line() {
    let mut c = connect().await;
    let f = bytes_file(b"id,v\n1,\"two\nlines\"\nx,bad\n3,ok\n");
    for mode in ["copy", "pipeline"] {
        let t = table("cli_line");
        c.batch_execute(&format!("CREATE TABLE {t} (id int, v text)"))
            .await
            .unwrap();
        let out = load(&t, "csv", mode, &["--header"], f.as_str());
        assert_eq!(out.status.code(), Some(1), "{mode}");
        let err = text(&out.stderr);
        assert!(err.contains("22P02"), "{mode}: {err}");
        let at = if mode == "copy" {
            format!("COPY {t}, line 4, column id: \"x\"")
        } else {
            "line 4 failed: ".to_string()
        };
        assert!(err.contains(&at), "{mode}: {err}");
        assert!(
            !err.contains("row 1") && !err.contains("row 2"),
            "{mode}: {err}"
        );
        assert_eq!(count(&mut c, &t).await, 0, "{mode}");
    }
}

#[test]
fn load_help_documents_the_formats_and_how_lines_are_numbered() {
    let out = pgline(&["load", "--help"]);
    let help = text(&out.stdout);
    for p in [
        "exactly as COPY",
        "\\N is NULL",
        "\"\" is the empty string",
        "\\xHH",
        "One transaction",
        "Errors name the input line where the failing row starts",
        "1-based, counting every line of the file",
    ] {
        assert!(help.contains(p), "{p} missing from:\n{help}");
    }
}

#[tokio::test]
async fn query_prints_an_aligned_table_or_tsv() {
    let out = pgline(&[
        "query",
        "--url",
        &url(),
        "SELECT 1 AS a, 'xyz' AS bb UNION ALL SELECT 22, NULL",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert_eq!(s, "a  | bb \n---+----\n1  | xyz\n22 |    \n(2 rows)\n");
    let out = pgline(&["query", "--tsv", "--url", &url(), "SELECT 1 AS a, 'x' AS b"]);
    assert_eq!(text(&out.stdout), "a\tb\n1\tx\n");
}

#[tokio::test]
async fn query_error_exits_one_with_the_sqlstate() {
    let out = pgline(&["query", "--url", &url(), "SELECT * FROM no_such_table"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("42P01"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn demo_without_a_url_starts_its_own_cluster_and_reports_both_methods() {
    let out = pgline(&["demo", "--rows", "20000"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("execute_many (pipelined)"), "{stdout}");
    assert!(stdout.contains("COPY (binary)"), "{stdout}");
    assert!(stdout.contains("table held 20000 rows"), "{stdout}");
    assert!(text(&out.stderr).contains("stopped the throwaway cluster"));
}

/// `pgline query` against the TLS-enabled test cluster: with the defaults (sslmode=prefer)
/// and with verify-full, the server sees an encrypted session; a wrong CA or a host name
/// the certificate does not name fails, saying which.
#[cfg(feature = "rustls")]
#[test]
fn query_connects_over_tls_by_default_and_with_verify_full_and_says_why_verification_fails() {
    let server = crate::support::tls_server();
    let files = crate::support::tls::tls_files();
    let ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let plain_url = server.url("postgres", None, "postgres");
    let out = pgline(&["query", "--url", &plain_url, ssl]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l.trim() == "t"),
        "{}",
        text(&out.stdout)
    );

    let verified = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        server.port(),
        files.ca.display()
    );
    let out = pgline(&["query", "--url", &verified, ssl]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l.trim() == "t"),
        "{}",
        text(&out.stdout)
    );

    let wrong_ca = verified.replace(
        &files.ca.display().to_string(),
        &files.wrong_ca.display().to_string(),
    );
    let out = pgline(&["query", "--url", &wrong_ca, "SELECT 1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not signed by a trusted root"),
        "{}",
        text(&out.stderr)
    );
    let wrong_host = verified.replace("@localhost:", "@127.0.0.1:");
    let out = pgline(&["query", "--url", &wrong_host, "SELECT 1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not match the host name"),
        "{}",
        text(&out.stderr)
    );
}

/// A connect timeout too large for a `Duration` is a clear configuration error (exit 1),
/// never a panic (exit 101), from the URL and from `PGCONNECT_TIMEOUT`.
#[test]
fn huge_connect_timeouts_are_config_errors_not_panics() {
    let url = format!("{}?connect_timeout=1e20", url());
    let out = pgline(&["query", "--url", &url, "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("connect_timeout"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args([
            "query",
            "--url",
            &crate::support::server().url("postgres", None, "postgres"),
            "SELECT 1",
        ])
        .env_remove("DATABASE_URL")
        .env("PGCONNECT_TIMEOUT", "1e20")
        .output()
        .expect("run pgline");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("PGCONNECT_TIMEOUT"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn query_reads_sql_from_a_file_or_stdin_and_writes_csv_like_psql() {
    let sql = "SELECT 1 AS n, 'a,b' AS comma, 'say \"hi\"' AS quote, '' AS empty, \
               NULL::text AS nothing, E'two\\nlines' AS nl";
    let expected =
        "n,comma,quote,empty,nothing,nl\n1,\"a,b\",\"say \"\"hi\"\"\",\"\",,\"two\nlines\"\n";
    let f = csv_file(&[sql.to_string()]);
    let out = pgline(&["query", "--url", &url(), "--csv", "-f", f.as_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), expected);

    let mut child = Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args(["query", "--url", &url(), "--csv"])
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn query_help_lists_the_connection_parameters_that_matter() {
    let out = pgline(&["query", "--help"]);
    let help = text(&out.stdout);
    for p in [
        "sslmode",
        "sslrootcert",
        "connect_timeout",
        "query_timeout",
        "channel_binding",
        "-f, --file",
        "--csv",
    ] {
        assert!(help.contains(p), "{p} missing from:\n{help}");
    }
}
