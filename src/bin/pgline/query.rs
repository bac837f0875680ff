//! `pgline query`: run SQL (an argument, a file or stdin) and print the rows as an aligned
//! table, TSV or CSV.

use std::io::Read as _;

use pgline::Connection;

use crate::connect_config;

/// The connection parameters that matter most, for `--help`.
const CONNECTION_HELP: &str = "\
Connection parameters (URL query or key=value, libpq names; PG* variables as defaults):
  sslmode            disable | allow | prefer (default) | require | verify-ca | verify-full
  sslrootcert        CA file for verify-ca/verify-full, or 'system' (implies verify-full)
  sslcert, sslkey    client certificate and key (PEM)
  channel_binding    disable | prefer (default) | require (SCRAM-SHA-256-PLUS only)
  connect_timeout    seconds for connect + TLS + authentication (default 30; 0 = none)
  query_timeout      seconds per operation (default 300; 0 = none); on expiry the
                     statement is cancelled
  keepalives_idle    seconds before TCP keepalive probes (default 60)
  application_name, options, require_auth, statement_cache_capacity, profile

Example:
  pgline query --url 'postgres://app@db.example.com/app?sslmode=verify-full&sslrootcert=ca.pem' 'SELECT 1'";

/// Arguments of `pgline query`.
#[derive(clap::Args, Debug)]
#[command(after_help = CONNECTION_HELP)]
pub(crate) struct QueryArgs {
    /// Server URL (else DATABASE_URL, else the PG* variables).
    #[arg(long, env = "DATABASE_URL")]
    url: Option<String>,
    /// Print tab-separated values instead of an aligned table.
    #[arg(long, conflicts_with = "csv")]
    tsv: bool,
    /// Print CSV (RFC 4180; NULL as an empty unquoted field, as psql --csv does).
    #[arg(long)]
    csv: bool,
    /// Read the SQL from this file (`-` for stdin).
    #[arg(short = 'f', long = "file", conflicts_with = "sql")]
    file: Option<std::path::PathBuf>,
    /// The SQL (one or more statements); without it and without -f, read from stdin.
    sql: Option<String>,
}

/// The SQL to run: the argument, the file, or stdin.
fn read_sql(args: &QueryArgs) -> Result<String, Box<dyn std::error::Error>> {
    if let Some(sql) = &args.sql {
        return Ok(sql.clone());
    }
    match &args.file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()).into()),
        _ => {
            let mut sql = String::new();
            std::io::stdin()
                .read_to_string(&mut sql)
                .map_err(|e| format!("cannot read SQL from stdin: {e}"))?;
            Ok(sql)
        }
    }
}

pub(crate) async fn run(args: QueryArgs) -> Result<(), Box<dyn std::error::Error>> {
    let sql = read_sql(&args)?;
    if sql.trim().is_empty() {
        return Err("no SQL given (an argument, -f FILE, or stdin)".into());
    }
    let config = connect_config(args.url.as_deref())?;
    let mut conn = Connection::connect(&config).await?;
    let results = conn.simple_query(&sql).await?;
    for r in results {
        let Some(cols) = &r.columns else {
            if let Some(tag) = &r.tag {
                println!("{tag}");
            }
            continue;
        };
        let header: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
        if args.csv {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let head: Vec<Option<&str>> = header.iter().map(|h| Some(h.as_str())).collect();
            out.write_all(&csv_line(&head))?;
            for row in &r.rows {
                out.write_all(&csv_line(&row.values().collect::<Vec<_>>()))?;
            }
            continue;
        }
        let rows: Vec<Vec<String>> = r
            .rows
            .iter()
            .map(|row| row.values().map(|v| v.unwrap_or("").to_string()).collect())
            .collect();
        if args.tsv {
            println!("{}", header.join("\t"));
            for row in &rows {
                println!("{}", row.join("\t"));
            }
            continue;
        }
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, v) in widths.iter_mut().zip(row) {
                *w = (*w).max(v.chars().count());
            }
        }
        let line = |vals: &[String]| {
            vals.iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        println!("{}", line(&header));
        println!(
            "{}",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-+-")
        );
        for row in &rows {
            println!("{}", line(row));
        }
        println!(
            "({} row{})",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        );
    }
    conn.close().await?;
    Ok(())
}

/// One CSV line (RFC 4180, as `psql --csv` writes it): NULL is an empty unquoted field,
/// an empty string is `""`, and a field with a comma, quote, CR or LF is quoted with its
/// quotes doubled.
fn csv_line(fields: &[Option<&str>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        match f {
            None => {}
            Some("") => line.extend_from_slice(b"\"\""),
            Some(s) if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) => {
                line.push(b'"');
                for b in s.bytes() {
                    if b == b'"' {
                        line.push(b'"');
                    }
                    line.push(b);
                }
                line.push(b'"');
            }
            Some(s) => line.extend_from_slice(s.as_bytes()),
        }
    }
    line.push(b'\n');
    line
}
