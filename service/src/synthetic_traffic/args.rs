//! The command line of `greeter synthetic-traffic`: every flag required, every value bounded, and
//! an error that names the flag.

use reqwest::Url;

pub const USAGE: &str =
    "usage: greeter synthetic-traffic --target http://HOST[:PORT] --rps N --seconds S
  --target   the service to load, plain HTTP (e.g. http://greeter-canary.greeter-dev.svc)
  --rps      requests per second, 0 to 50 (0 sends nothing until the time is up)
  --seconds  how long, 1 to 3600; SIGTERM or SIGINT stops it sooner";

/// Bounds: a canary gate needs a few requests per second, never a load test.
const MAX_RPS: u32 = 50;
const MAX_SECONDS: u32 = 3600;

/// What to send, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: Url,
    pub rps: u32,
    pub seconds: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    #[error("--help")]
    Help,
    #[error("{flag}: {reason}")]
    Invalid { flag: String, reason: String },
}

impl ArgsError {
    fn invalid(flag: &str, reason: impl Into<String>) -> Self {
        ArgsError::Invalid {
            flag: flag.to_string(),
            reason: reason.into(),
        }
    }
}

const FLAGS: [&str; 3] = ["--target", "--rps", "--seconds"];

impl Plan {
    /// Parses `--flag value` and `--flag=value`, each flag exactly once.
    pub fn parse(args: &[String]) -> Result<Self, ArgsError> {
        let mut values: [Option<String>; 3] = Default::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(ArgsError::Help);
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            let Some(slot) = FLAGS.iter().position(|known| *known == flag) else {
                return Err(ArgsError::invalid(
                    flag,
                    format!("unknown flag; the flags are {}", FLAGS.join(", ")),
                ));
            };
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .cloned()
                    .ok_or_else(|| ArgsError::invalid(flag, "needs a value"))?,
            };
            if values[slot].replace(value).is_some() {
                return Err(ArgsError::invalid(flag, "given more than once"));
            }
        }
        let [target, rps, seconds] = values;
        let required = |value: Option<String>, flag: &str| {
            value.ok_or_else(|| ArgsError::invalid(flag, "is required"))
        };
        Ok(Plan {
            target: parse_target(&required(target, "--target")?)?,
            rps: parse_bounded(&required(rps, "--rps")?, "--rps", 0, MAX_RPS)?,
            seconds: parse_bounded(
                &required(seconds, "--seconds")?,
                "--seconds",
                1,
                MAX_SECONDS,
            )?,
        })
    }
}

/// A plain-HTTP origin (the canary Service inside the cluster): no path, query or credentials,
/// since the routes are fixed.
fn parse_target(text: &str) -> Result<Url, ArgsError> {
    let invalid = |reason: &str| ArgsError::invalid("--target", format!("{text:?} {reason}"));
    let url = Url::parse(text).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(invalid(
            "is not http:// (plain HTTP to a Service in the cluster)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must have no path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must carry no credentials"));
    }
    Ok(url)
}

fn parse_bounded(text: &str, flag: &str, min: u32, max: u32) -> Result<u32, ArgsError> {
    let value: u32 = text
        .parse()
        .map_err(|_| ArgsError::invalid(flag, format!("{text:?} is not a whole number")))?;
    if !(min..=max).contains(&value) {
        return Err(ArgsError::invalid(
            flag,
            format!("{value} is outside {min}..={max}"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Plan, ArgsError> {
        Plan::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    fn flag_of(args: &[&str]) -> String {
        match parse(args) {
            Err(ArgsError::Invalid { flag, .. }) => flag,
            other => panic!("{args:?} should be refused, got {other:?}"),
        }
    }

    const VALID: [&str; 6] = [
        "--target",
        "http://greeter-canary.greeter-dev.svc",
        "--rps",
        "2",
        "--seconds",
        "3600",
    ];

    #[test]
    fn the_analysis_job_command_line() {
        let plan = parse(&VALID).unwrap();
        assert_eq!(
            plan.target.as_str(),
            "http://greeter-canary.greeter-dev.svc/"
        );
        assert_eq!((plan.rps, plan.seconds), (2, 3600));
        let inline = parse(&["--seconds=1", "--rps=0", "--target=http://127.0.0.1:8080/"]).unwrap();
        assert_eq!((inline.rps, inline.seconds), (0, 1));
        assert_eq!(inline.target.port(), Some(8080));
    }

    #[test]
    fn bad_input_names_the_flag() {
        let with = |flag: &str, value: &str| {
            let mut args = VALID.to_vec();
            let at = args.iter().position(|a| *a == flag).unwrap();
            args[at + 1] = value;
            flag_of(&args)
        };
        for (flag, value) in [
            ("--rps", "51"),
            ("--rps", "-1"),
            ("--rps", "1.5"),
            ("--rps", "many"),
            ("--seconds", "0"),
            ("--seconds", "3601"),
            ("--target", "https://greeter.example.com"),
            ("--target", "greeter-canary:80"),
            ("--target", "http://greeter-canary/visits"),
            ("--target", "http://greeter-canary/?x=1"),
            ("--target", "http://user:pass@greeter-canary"),
            ("--target", "http://"),
        ] {
            assert_eq!(with(flag, value), flag, "{flag} {value}");
        }
        assert_eq!(flag_of(&VALID[..4]), "--seconds", "missing");
        assert_eq!(flag_of(&[&VALID[..], &["--rps", "1"]].concat()), "--rps");
        assert_eq!(flag_of(&[&VALID[..], &["--rate", "1"]].concat()), "--rate");
        assert_eq!(flag_of(&[&VALID[..5]].concat()), "--seconds", "no value");
        assert_eq!(parse(&["--help"]), Err(ArgsError::Help));
    }
}
