//! One test per scanner rule, then properties: renumbering preserves meaning, and no
//! input panics.

use proptest::prelude::*;

use super::*;

/// The rewrite, which must exist.
fn rewritten(sql: &str) -> Rewrite {
    rewrite(sql)
        .expect("valid placeholders")
        .expect("a rewrite")
}

fn numbers(sql: &str) -> Vec<u16> {
    Placeholders::new(sql).map(|p| p.unwrap().number).collect()
}

// --- renumbering -------------------------------------------------------------------------

#[test]
fn reversed_placeholders_are_renumbered_and_the_values_swapped() {
    let rw = rewritten("SELECT $2, $1");
    assert_eq!(rw.sql, "SELECT $1, $2");
    assert_eq!(rw.order, [1, 0]);
    assert_eq!(rw.reorder(&["a", "b"]), Some(vec!["b", "a"]));
}

#[test]
fn a_repeated_placeholder_becomes_two_fed_by_the_same_value() {
    let rw = rewritten("SELECT $1, $1");
    assert_eq!(rw.sql, "SELECT $1, $2");
    assert_eq!(rw.order, [0, 0]);
    assert_eq!(rw.reorder(&[7]), Some(vec![7, 7]));
}

#[test]
fn a_gap_is_closed_up_and_fed_by_the_referenced_value() {
    let rw = rewritten("SELECT $3");
    assert_eq!(rw.sql, "SELECT $1");
    assert_eq!(rw.order, [2]);
    assert_eq!(rw.reorder(&['a', 'b', 'c']), Some(vec!['c']));
}

#[test]
fn a_gap_in_the_middle_keeps_the_values_around_it() {
    let rw = rewritten("INSERT INTO t VALUES ($1, $3)");
    assert_eq!(rw.sql, "INSERT INTO t VALUES ($1, $2)");
    assert_eq!(rw.order, [0, 2]);
}

#[test]
fn already_ascending_placeholders_need_no_rewrite() {
    assert_eq!(rewrite("SELECT $1, $2, $3 FROM t WHERE a = $4"), Ok(None));
}

#[test]
fn sql_without_placeholders_needs_no_rewrite() {
    assert_eq!(rewrite("SELECT 1"), Ok(None));
    assert_eq!(rewrite(""), Ok(None));
}

#[test]
fn a_renumbered_placeholder_can_change_width() {
    let rw = rewritten("SELECT $10,$2");
    assert_eq!(rw.sql, "SELECT $1,$2");
    assert_eq!(rw.order, [9, 1]);
}

#[test]
fn leading_zeros_are_the_same_placeholder() {
    assert_eq!(numbers("SELECT $01, $002"), [1, 2]);
    assert_eq!(rewrite("SELECT $01"), Ok(None));
    assert_eq!(rewritten("SELECT $02, $01").sql, "SELECT $1, $2");
}

#[test]
fn text_around_placeholders_is_copied_verbatim_including_non_ascii() {
    let rw = rewritten("SELECT 'é$1', $2::text || 'ü', \"naïve\" FROM ț WHERE x=$1--$3\n");
    assert_eq!(
        rw.sql,
        "SELECT 'é$1', $1::text || 'ü', \"naïve\" FROM ț WHERE x=$2--$3\n"
    );
    assert_eq!(rw.order, [1, 0]);
}

#[test]
fn reorder_refuses_too_few_values() {
    assert_eq!(rewritten("SELECT $2, $1").reorder(&[1]), None);
}

// --- what is not a placeholder -----------------------------------------------------------

#[test]
fn a_placeholder_inside_a_string_literal_is_text() {
    assert_eq!(numbers("SELECT '$1', $1"), [1]);
    assert_eq!(numbers("SELECT 'it''s $2', $1"), [1]);
}

#[test]
fn a_backslash_does_not_escape_a_quote_in_a_plain_literal() {
    // standard_conforming_strings: '\' is a complete literal.
    assert_eq!(numbers(r"SELECT '\', $1, '\'"), [1]);
}

#[test]
fn a_placeholder_inside_an_escape_string_is_text() {
    assert_eq!(numbers(r"SELECT E'\' $2', $1"), [1]);
    assert_eq!(numbers(r"SELECT e'\\', $1"), [1]);
    assert_eq!(numbers(r"SELECT E'a''$2\'$3', $1"), [1]);
}

#[test]
fn only_a_standalone_e_starts_an_escape_string() {
    // `xE` is an identifier, so `'\'` is a plain literal and `$1` follows it.
    assert_eq!(numbers(r"SELECT xE'\', $1"), [1]);
}

#[test]
fn prefixed_literals_follow_the_plain_quote_rules() {
    assert_eq!(numbers("SELECT B'$1', X'$2', N'$3', U&'$4', $1"), [1]);
}

#[test]
fn a_placeholder_inside_a_quoted_identifier_is_text() {
    assert_eq!(numbers(r#"SELECT "$1", "a""$2", $1"#), [1]);
}

#[test]
fn a_placeholder_inside_a_line_comment_is_text() {
    assert_eq!(numbers("SELECT $1 -- $2\n, $2"), [1, 2]);
    assert_eq!(numbers("SELECT $1 -- $2\r, $2"), [1, 2]);
    assert_eq!(numbers("SELECT $1 -- $2"), [1]);
}

#[test]
fn a_placeholder_inside_a_nested_block_comment_is_text() {
    assert_eq!(numbers("SELECT /* $1 /* $2 */ $3 */ $1"), [1]);
    assert_eq!(numbers("SELECT /*/ $1 */ $1"), [1]);
}

#[test]
fn a_placeholder_inside_a_dollar_quoted_string_is_text() {
    assert_eq!(numbers("SELECT $$ $1 ' $$, $1"), [1]);
    assert_eq!(numbers("SELECT $fn$ $1 $$ $f$ $fn$, $1"), [1]);
    assert_eq!(numbers("SELECT $a$ $ba$ $1 $a$, $1"), [1]);
    assert_eq!(numbers("SELECT $_x9$ $1 $_x9$, $1"), [1]);
}

#[test]
fn a_dollar_tag_cannot_start_with_a_digit() {
    // `$1a$` is the placeholder `$1` followed by the identifier `a$`.
    assert_eq!(numbers("SELECT $1a$ $2"), [1, 2]);
}

#[test]
fn a_dollar_inside_an_identifier_is_not_a_placeholder() {
    assert_eq!(numbers("SELECT a$1, $1"), [1]);
    assert_eq!(numbers("SELECT a$$ $1"), [1]);
    assert_eq!(numbers("SELECT é$2, $1"), [1]);
}

#[test]
fn a_lone_dollar_is_text() {
    assert_eq!(numbers("SELECT $ $1 $"), [1]);
}

#[test]
fn unterminated_quotes_and_comments_hide_the_rest() {
    for sql in [
        "SELECT $1, '$2",
        "SELECT $1, E'\\'$2",
        "SELECT $1, \"$2",
        "SELECT $1, /* /* */ $2",
        "SELECT $1, $q$ $2",
        "SELECT $1, E'\\",
    ] {
        assert_eq!(numbers(sql), [1], "{sql}");
        assert_eq!(rewrite(sql), Ok(None), "{sql}");
    }
}

// --- errors and max_index ----------------------------------------------------------------

#[test]
fn placeholder_zero_is_an_error_with_its_offset() {
    assert_eq!(rewrite("SELECT $0"), Err(PlaceholderError::Zero { at: 7 }));
    assert_eq!(
        rewrite("SELECT $1, $00"),
        Err(PlaceholderError::Zero { at: 11 })
    );
}

#[test]
fn a_placeholder_above_65535_is_an_error() {
    assert_eq!(max_index("SELECT $65535"), Ok(65535));
    assert_eq!(
        rewrite("SELECT $65536"),
        Err(PlaceholderError::TooLarge { at: 7 })
    );
    assert_eq!(
        rewrite("SELECT $2, $99999999999999999999999999999"),
        Err(PlaceholderError::TooLarge { at: 11 })
    );
}

#[test]
fn errors_are_found_after_an_in_order_prefix_and_after_a_reordering() {
    assert!(rewrite("SELECT $1, $2, $0").is_err());
    assert!(rewrite("SELECT $2, $1, $0").is_err());
}

#[test]
fn an_error_inside_a_literal_is_not_an_error() {
    assert_eq!(rewrite("SELECT '$0', $1"), Ok(None));
}

#[test]
fn the_scanner_stops_after_an_error() {
    let mut it = Placeholders::new("$0 $1");
    assert!(matches!(it.next(), Some(Err(_))));
    assert_eq!(it.next(), None);
}

#[test]
fn max_index_is_the_largest_number_referenced() {
    assert_eq!(max_index("SELECT 1"), Ok(0));
    assert_eq!(max_index("SELECT $2, $5, $1, '$9'"), Ok(5));
    assert_eq!(
        max_index("SELECT $0"),
        Err(PlaceholderError::Zero { at: 7 })
    );
}

#[test]
fn more_than_65535_rewritten_placeholders_is_an_error() {
    let sql = "$1,".repeat(65_536);
    // Already 1..k? No: `$1` repeats, so a rewrite is needed and would overflow.
    assert_eq!(rewrite(&sql), Err(PlaceholderError::TooMany));
    assert_eq!(
        rewrite(&"$1,".repeat(65_535)).map(|r| r.map(|r| r.order.len())),
        Ok(Some(65_535))
    );
}

#[test]
fn errors_display_their_offset() {
    assert_eq!(
        PlaceholderError::Zero { at: 3 }.to_string(),
        "placeholder $0 at byte 3: parameters are numbered from $1"
    );
}

// --- properties --------------------------------------------------------------------------

/// A piece of generated SQL: either a placeholder or text that contains none.
#[derive(Debug, Clone)]
enum Frag {
    Placeholder(u16),
    Text(String),
}

/// Contents that look like placeholders, quotes and comment starts, for the insides of
/// quoted constructs. Every `$` is followed by a digit, so no `$$` or `$q$` can form.
fn tricky_inside() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("$1"),
            Just("$2"),
            Just("$0"),
            Just(" "),
            Just("a"),
            Just("é"),
            Just("-"),
            Just("--"),
            Just("*"),
            Just("/"),
            Just("\n"),
        ],
        0..8,
    )
    .prop_map(|v| v.concat())
}

fn frag() -> impl Strategy<Value = Frag> {
    prop_oneof![
        3 => (1u16..=6).prop_map(Frag::Placeholder),
        // Plain literal, `''` inside.
        1 => (tricky_inside(), tricky_inside())
            .prop_map(|(a, b)| Frag::Text(format!("'{a}''{b}'"))),
        // Escape string with `\'`, `\\` and `''`.
        1 => (tricky_inside(), tricky_inside())
            .prop_map(|(a, b)| Frag::Text(format!(r"E'{a}\'{b}\\''x'"))),
        // Quoted identifier with `""`.
        1 => tricky_inside().prop_map(|a| Frag::Text(format!("\"{a}\"\"\""))),
        // Line comment (the inside may hold `\n`: stop at it).
        1 => tricky_inside().prop_map(|a| {
            let a = a.replace('\n', " ");
            Frag::Text(format!("--{a}\n"))
        }),
        // Nested block comment; `*` and `/` are dropped so the inside cannot close it.
        1 => (tricky_inside(), tricky_inside()).prop_map(|(a, b)| {
            let clean = |s: String| s.replace(['*', '/'], " ");
            Frag::Text(format!("/*{} /* {} */ */", clean(a), clean(b)))
        }),
        // Dollar quotes, empty and tagged.
        1 => tricky_inside().prop_map(|a| Frag::Text(format!("$${a}$$"))),
        1 => tricky_inside().prop_map(|a| Frag::Text(format!("$q_1${a}$q_1$"))),
        // Identifiers with `$`, keywords, numbers, punctuation.
        1 => prop_oneof![
            Just("a$1"),
            Just("x$$"),
            Just("SELECT"),
            Just("e"),
            Just("42"),
            Just(","),
            Just("::int"),
            Just("||"),
            Just("ü"),
        ]
        .prop_map(|s| Frag::Text(s.to_owned())),
    ]
}

/// Joins fragments with spaces (so no fragment glues onto its neighbour), renders
/// placeholder `k` (0-based, in order) with `render(k, number)`.
fn render(frags: &[Frag], mut placeholder: impl FnMut(usize, u16) -> String) -> String {
    let mut k = 0;
    let parts: Vec<String> = frags
        .iter()
        .map(|f| match f {
            Frag::Text(s) => s.clone(),
            Frag::Placeholder(n) => {
                k += 1;
                placeholder(k - 1, *n)
            }
        })
        .collect();
    parts.join(" ")
}

/// Replaces each placeholder the scanner finds in `sql` with `value(number)`.
fn substitute(sql: &str, value: impl Fn(u16) -> String) -> String {
    let mut out = String::new();
    let mut copied = 0;
    for p in Placeholders::new(sql) {
        let p = p.unwrap();
        out.push_str(&sql[copied..p.start]);
        out.push_str(&value(p.number));
        copied = p.end;
    }
    out.push_str(&sql[copied..]);
    out
}

/// A string biased towards the characters the scanner cares about.
fn sqlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                "$", "$1", "$0", "$9", "'", "''", "\"", "E'", "\\", "--", "/*", "*/", "\n", "$$",
                "$a$", "a", "1", " ", "é", "\r", "*", "/", "-",
            ])
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn rewriting_preserves_meaning(frags in prop::collection::vec(frag(), 0..12)) {
        let original = render(&frags, |_, n| format!("${n}"));
        let expected: Vec<u16> = frags
            .iter()
            .filter_map(|f| match f {
                Frag::Placeholder(n) => Some(*n),
                Frag::Text(_) => None,
            })
            .collect();

        // The scanner finds exactly the generated placeholders.
        prop_assert_eq!(&numbers(&original), &expected);

        let ascending = expected.iter().enumerate().all(|(i, &n)| usize::from(n) == i + 1);
        let result = rewrite(&original).unwrap();
        prop_assert_eq!(result.is_none(), ascending);
        let rw = result.unwrap_or_else(|| Rewrite {
            sql: original.clone(),
            order: expected.iter().map(|n| n - 1).collect(),
        });

        // Ascending, unique placeholders; every other byte unchanged.
        let expected_sql = render(&frags, |k, _| format!("${}", k + 1));
        prop_assert_eq!(&rw.sql, &expected_sql);
        prop_assert_eq!(rewrite(&rw.sql).unwrap(), None);
        let order: Vec<u16> = expected.iter().map(|n| n - 1).collect();
        prop_assert_eq!(&rw.order, &order);
        prop_assert_eq!(max_index(&original).unwrap(), expected.iter().copied().max().unwrap_or(0));

        // Substituting values gives the same statement either way.
        let values: Vec<String> = (0..6).map(|i| format!("<value {i}>")).collect();
        let direct = substitute(&original, |n| values[usize::from(n) - 1].clone());
        let reordered = rw.reorder(&values).unwrap();
        let via_rewrite = substitute(&rw.sql, |i| reordered[usize::from(i) - 1].clone());
        prop_assert_eq!(direct, via_rewrite);
    }

    #[test]
    fn arbitrary_text_never_panics(sql in any::<String>()) {
        let _ = rewrite(&sql);
        let _ = max_index(&sql);
    }

    #[test]
    fn sql_like_text_never_panics_and_rewrites_to_a_fixed_point(sql in sqlish()) {
        let max = max_index(&sql);
        match rewrite(&sql) {
            Ok(Some(rw)) => {
                prop_assert_eq!(rewrite(&rw.sql), Ok(None));
                let needed = usize::from(max.unwrap());
                prop_assert!(rw.order.iter().all(|&i| usize::from(i) < needed));
            }
            Ok(None) => prop_assert!(max.is_ok()),
            Err(e) => prop_assert_eq!(max, Err(e)),
        }
    }
}
