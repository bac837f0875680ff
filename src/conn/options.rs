//! The `options` connection parameter: command-line switches for the server process.
//!
//! libpq sends `options` as it is, and the server splits it: on unescaped white space,
//! with a backslash taking the next character literally (`pg_split_opts`:
//! "Split the options string into an array of individual arguments. [...] A backslash
//! escapes the next character, which allows spaces to be embedded in arguments"), then
//! reads `-c name=value` and `--name=value` as settings (with `-` in the name read as
//! `_`, `ParseLongOption`), and other switches (`-B 64`, `-e`) as postgres's own.
//!
//! pgline does the same splitting on the client. When every switch is a setting, it
//! sends each as its own startup parameter instead of `options`: the server treats a
//! startup parameter it does not know as a setting, exactly as `-c`, and pgline can then
//! see them. That matters for `DateStyle`: the server applies `options` *before* the
//! other startup parameters, so pgline's own `DateStyle=ISO, MDY` would silently win over
//! a `-c DateStyle=...` left in `options`; split out, the caller's setting is seen and
//! pgline sends none. When the string has any other switch, it is sent unchanged as
//! `options`. A `-c` without `name=value` is refused here with the server's wording.

use crate::error::Error;

/// Splits an `options` string as the server does (`pg_split_opts`).
pub(crate) fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_ascii_whitespace() => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        arg.push(n);
                    }
                }
                c => arg.push(c),
            }
        }
        out.push(arg);
    }
}

/// The settings of an `options` string, as `(name, value)` startup parameters, when every
/// switch in it is a setting; `None` when it has other switches (then it is sent as it
/// is). Names are normalised as the server does (`-` to `_`).
pub(crate) fn options_to_params(s: &str) -> Result<Option<Vec<(String, String)>>, Error> {
    let args = split_options(s);
    let mut params = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let setting = if arg == "-c" {
            it.next()
                .ok_or_else(|| Error::config("options: -c requires a value (-c name=value)"))?
                .as_str()
        } else if let Some(rest) = arg.strip_prefix("--") {
            rest
        } else if let Some(rest) = arg.strip_prefix("-c") {
            rest
        } else {
            return Ok(None);
        };
        let (name, value) = setting.split_once('=').ok_or_else(|| {
            if arg.starts_with("--") {
                Error::config(format!("options: --{setting} requires a value"))
            } else {
                Error::config(format!("options: -c {setting} requires a value"))
            }
        })?;
        if name.is_empty() {
            return Err(Error::config(format!(
                "options: setting {setting:?} has no name"
            )));
        }
        let name = name.replace('-', "_");
        // Names that mean something else as a startup parameter (the login role, the
        // database, a walsender, protocol options) stay inside `options`, where the
        // server treats them as the settings they are.
        if matches!(
            name.as_str(),
            "user" | "database" | "replication" | "options"
        ) || name.starts_with("_pq_")
        {
            return Ok(None);
        }
        params.push((name, value.to_string()));
    }
    Ok(Some(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_naming_startup_keys_are_sent_whole() {
        for o in [
            "-c replication=database",
            "-c user=x",
            "--database=y",
            "-c _pq_.x=1",
        ] {
            assert_eq!(options_to_params(o).unwrap(), None, "{o}");
        }
    }

    fn pairs(v: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            v.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    #[test]
    fn options_split_on_unescaped_blanks_and_backslashes_escape() {
        assert_eq!(
            split_options("  -c  search_path=a\\ b\\\\c  --x=y "),
            ["-c", "search_path=a b\\c", "--x=y"]
        );
        assert!(split_options("   ").is_empty());
    }

    #[test]
    fn dash_c_and_double_dash_settings_become_startup_parameters() {
        assert_eq!(
            options_to_params("-c search_path=app\\ schema -cwork_mem=64MB --statement-timeout=5s")
                .unwrap(),
            pairs(&[
                ("search_path", "app schema"),
                ("work_mem", "64MB"),
                ("statement_timeout", "5s"),
            ])
        );
        assert_eq!(options_to_params("").unwrap(), pairs(&[]));
        // An '=' inside the value stays in it.
        assert_eq!(
            options_to_params("-c application_name=a=b").unwrap(),
            pairs(&[("application_name", "a=b")])
        );
    }

    #[test]
    fn other_server_switches_keep_options_as_it_is() {
        assert_eq!(options_to_params("-c x=1 -B 64").unwrap(), None);
        assert_eq!(options_to_params("-e").unwrap(), None);
    }

    #[test]
    fn a_setting_without_a_value_is_a_config_error() {
        for bad in ["-c", "-c work_mem", "--work_mem", "-c =5"] {
            let e = options_to_params(bad).unwrap_err();
            assert!(e.is_config(), "{bad}: {e}");
        }
    }
}
