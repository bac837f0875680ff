//! `pgline query`: run SQL and print the rows as an aligned table or TSV.

use pgline::Connection;

use crate::connect_config;

/// Arguments of `pgline query`.
#[derive(clap::Args, Debug)]
pub(crate) struct QueryArgs {
    /// Server URL (else DATABASE_URL, else the PG* variables).
    #[arg(long, env = "DATABASE_URL")]
    url: Option<String>,
    /// Print tab-separated values instead of an aligned table.
    #[arg(long)]
    tsv: bool,
    /// The SQL (one or more statements).
    sql: String,
}

pub(crate) async fn run(args: QueryArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = connect_config(args.url.as_deref())?;
    let mut conn = Connection::connect(&config).await?;
    let results = conn.simple_query(&args.sql).await?;
    for r in results {
        let Some(cols) = &r.columns else {
            if let Some(tag) = &r.tag {
                println!("{tag}");
            }
            continue;
        };
        let header: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
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
