//! What a PromQL expression refers to: metric names, the label names its selectors match on and
//! the label names it groups or joins by. A small tokenizer, not a parser: enough to compare every
//! expression we ship with the series a real Prometheus holds.

use std::collections::BTreeSet;

/// One vector selector: `metric{label="..", ...}` (metric is `None` for `{__name__=~".."}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub metric: Option<String>,
    pub labels: Vec<String>,
}

/// Everything an expression refers to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    pub selectors: Vec<Selector>,
    /// Labels named in `by`, `without`, `on`, `ignoring`, `group_left`, `group_right`.
    pub grouping_labels: BTreeSet<String>,
}

impl References {
    pub fn metrics(&self) -> BTreeSet<String> {
        self.selectors
            .iter()
            .filter_map(|s| s.metric.clone())
            .collect()
    }
}

const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2",
];
/// Aggregation operators may be followed by `by (...)` instead of their argument.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str,
    Number,
    Punct(char),
    /// `=`, `!=`, `=~`, `!~` and the comparison/arithmetic operators.
    Op(String),
}

/// Extracts the references of an expression; panics with the position on text it cannot read,
/// so a typo in a shipped expression fails the test instead of being skipped.
pub fn references(expr: &str) -> References {
    let tokens = tokenize(expr);
    let mut refs = References::default();
    let mut i = 0;
    while i < tokens.len() {
        let opens_paren = tokens.get(i + 1) == Some(&Token::Punct('('));
        match &tokens[i] {
            Token::Ident(name) if GROUPING.contains(&name.as_str()) && opens_paren => {
                i += 2;
                while i < tokens.len() && tokens[i] != Token::Punct(')') {
                    if let Token::Ident(label) = &tokens[i] {
                        refs.grouping_labels.insert(label.clone());
                    }
                    i += 1;
                }
            }
            // The duration after offset is a number token; skip it with the keyword.
            Token::Ident(name) if name == "offset" => i += 1,
            Token::Ident(name)
                if AGGREGATIONS.contains(&name.as_str()) || KEYWORDS.contains(&name.as_str()) => {}
            // A function call: its arguments are read by the loop.
            Token::Ident(_) if opens_paren => {}
            Token::Ident(name) => {
                let (labels, next) = matchers(&tokens, i + 1);
                refs.selectors.push(Selector {
                    metric: Some(name.clone()),
                    labels,
                });
                i = next;
                continue;
            }
            Token::Punct('{') => {
                let (labels, next) = matchers(&tokens, i);
                refs.selectors.push(Selector {
                    metric: None,
                    labels,
                });
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

/// Reads `{label op "value", ...}` at `start` (if present); returns the label names and the index
/// after the closing brace.
fn matchers(tokens: &[Token], start: usize) -> (Vec<String>, usize) {
    let mut labels = Vec::new();
    if tokens.get(start) != Some(&Token::Punct('{')) {
        return (labels, start);
    }
    let mut i = start + 1;
    while i < tokens.len() && tokens[i] != Token::Punct('}') {
        if let (Token::Ident(label), Some(Token::Op(_))) = (&tokens[i], tokens.get(i + 1)) {
            labels.push(label.clone());
        }
        i += 1;
    }
    (labels, i + 1)
}

fn tokenize(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                i += 1;
            }
            assert!(i < chars.len(), "unterminated string in PromQL: {expr}");
            i += 1;
            tokens.push(Token::Str);
        } else if c == '[' {
            // Range or subquery: durations only.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // Numbers, durations (30m) and exponents (1e3).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Number);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if "(){},".contains(c) {
            tokens.push(Token::Punct(c));
            i += 1;
        } else if "=!<>~+-*/%^".contains(c) {
            let start = i;
            while i < chars.len() && "=!<>~".contains(chars[i]) && i - start < 2 {
                i += 1;
            }
            if i == start {
                i += 1;
            }
            tokens.push(Token::Op(chars[start..i].iter().collect()));
        } else {
            panic!("unexpected {c:?} at byte {i} of PromQL expression: {expr}");
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_selectors_grouping_and_skips_functions_strings_and_durations() {
        let refs = references(
            r#"histogram_quantile(0.95, sum by (namespace, le) (rate(http_bucket{job="a", le!~"1e3"}[5m] offset 30m)))
               and on (namespace) label_replace(up{instance=~".+"}, "x", "$1", "y", "(.+)") > 0.25
               unless {__name__="m"} * 1e3"#,
        );
        assert_eq!(
            refs.selectors,
            vec![
                Selector {
                    metric: Some("http_bucket".into()),
                    labels: vec!["job".into(), "le".into()]
                },
                Selector {
                    metric: Some("up".into()),
                    labels: vec!["instance".into()]
                },
                Selector {
                    metric: None,
                    labels: vec!["__name__".into()]
                },
            ]
        );
        assert_eq!(
            refs.grouping_labels,
            ["le", "namespace"].iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(
            refs.metrics(),
            ["http_bucket", "up"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
    }

    #[test]
    fn recording_rule_names_with_colons_are_metrics() {
        let refs =
            references("namespace:greeter_slo_availability_errors:ratio_rate1h / 0.001 > 14.4");
        assert_eq!(
            refs.metrics().into_iter().collect::<Vec<_>>(),
            vec!["namespace:greeter_slo_availability_errors:ratio_rate1h"]
        );
    }

    #[test]
    #[should_panic(expected = "unexpected")]
    fn unreadable_text_fails() {
        references("rate(x[5m]) ; drop table");
    }
}
