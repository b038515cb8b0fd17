//! `greeter synthetic-traffic`: a small, bounded load generator that keeps a canary measurable when
//! no client calls (staging at night, dev). The canary's analysis runs it as a Job from the
//! release's own image (which has no shell) against the canary Service. It only makes traffic:
//! Prometheus judges the answers, so it exits 0 whatever they were. Every request carries
//! `X-Greeter-Traffic: synthetic` (`crate::traffic`): the SLOs leave it out and its visits count
//! apart. It reads no configuration and no environment variable.

mod args;
mod summary;

use std::process::ExitCode;
use std::time::Duration;

use reqwest::{Client, Method, Url};
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use args::{ArgsError, Plan, USAGE};
use summary::{Outcome, StoppedBy, Summary};

use crate::build_info::BUILD;
use crate::traffic::{HEADER, SYNTHETIC};

/// The first argument that selects this command.
pub const COMMAND: &str = "synthetic-traffic";

/// Bound on each request, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Requests waiting for an answer at most; when that many are, the next one is skipped (and
/// counted) rather than piled on a canary that stalls.
const MAX_IN_FLIGHT: usize = 32;

/// One request of the mix.
struct Route {
    /// `"GET /visits"`, the key in the summary.
    name: &'static str,
    method: Method,
    path: &'static str,
}

/// Every route the SLOs cover, sent in turn: `/secret` without credentials, so 401 is its answer.
static ROUTES: [Route; 5] = [
    Route {
        name: "GET /",
        method: Method::GET,
        path: "/",
    },
    Route {
        name: "POST /visits",
        method: Method::POST,
        path: "/visits",
    },
    Route {
        name: "GET /visits",
        method: Method::GET,
        path: "/visits",
    },
    Route {
        name: "GET /version",
        method: Method::GET,
        path: "/version",
    },
    Route {
        name: "GET /secret",
        method: Method::GET,
        path: "/secret",
    },
];

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen for SIGTERM and SIGINT: {0}")]
    Signals(std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("cannot write the summary: {0}")]
    Summary(serde_json::Error),
}

/// `greeter synthetic-traffic ARGS…`: exit 2 on bad flags, 1 when it cannot run at all, else 0.
pub fn main(args: &[String]) -> ExitCode {
    let plan = match Plan::parse(args) {
        Ok(plan) => plan,
        Err(ArgsError::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("greeter {COMMAND}: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let line = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)
        .and_then(|runtime| runtime.block_on(run(plan)))
        .and_then(|summary| serde_json::to_string(&summary).map_err(RunError::Summary));
    match line {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("greeter {COMMAND}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends the routes in turn, evenly spaced at `plan.rps`, until `plan.seconds` have passed or
/// SIGTERM/SIGINT came; then waits for the answers still on their way (each within
/// `REQUEST_TIMEOUT`) and counts them all.
async fn run(plan: Plan) -> Result<Summary, RunError> {
    let (signal, _) = crate::shutdown::signals().map_err(RunError::Signals)?;
    let client = Client::builder()
        .timeout(REQUEST_TIMEOUT)
        // Straight to the Service: no proxy from the environment, and 3xx counted as answered.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        // A new connection per request: a kept-alive one stays with the pod it first reached
        // through the Service's virtual IP, and the job starts while greeter-canary may still
        // select the stable pods (a game day saw every synthetic request land on one stable pod).
        .pool_max_idle_per_host(0)
        .user_agent(format!("greeter-{COMMAND}/{}", BUILD.version))
        .build()
        .map_err(RunError::Client)?;
    let urls: Vec<Url> = ROUTES
        .iter()
        .map(|route| {
            let mut url = plan.target.clone();
            url.set_path(route.path);
            url
        })
        .collect();
    let mut summary = Summary::new(
        plan.target.to_string(),
        plan.rps,
        plan.seconds,
        &ROUTES.each_ref().map(|route| route.name),
    );
    let started = Instant::now();
    let deadline = tokio::time::sleep_until(started + Duration::from_secs(plan.seconds.into()));
    let mut ticks = (plan.rps > 0).then(|| {
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / plan.rps);
        // Behind schedule (a starved CPU), drop the missed requests rather than send a burst.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        ticks
    });
    let mut in_flight = JoinSet::new();
    tokio::pin!(signal, deadline);
    summary.stopped_by = loop {
        tokio::select! {
            biased;
            () = &mut signal => break StoppedBy::Signal,
            () = &mut deadline => break StoppedBy::Deadline,
            Some(Ok((route, outcome))) = in_flight.join_next(), if !in_flight.is_empty() => {
                summary.record(route, outcome);
            }
            () = next_tick(&mut ticks) => {
                if in_flight.len() >= MAX_IN_FLIGHT {
                    summary.skipped += 1;
                    continue;
                }
                let turn = (summary.sent % ROUTES.len() as u64) as usize;
                summary.sent += 1;
                in_flight.spawn(send(client.clone(), &ROUTES[turn], urls[turn].clone()));
            }
        }
    };
    // A task only fails by panicking, and a release build aborts on panic.
    while let Some(Ok((route, outcome))) = in_flight.join_next().await {
        summary.record(route, outcome);
    }
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The next tick; never, when the rate is 0.
async fn next_tick(ticks: &mut Option<Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn send(client: Client, route: &'static Route, url: Url) -> (&'static str, Outcome) {
    let answer = client
        .request(route.method.clone(), url)
        .header(HEADER, SYNTHETIC)
        .send()
        .await;
    let outcome = match answer {
        Ok(response) => {
            let status = response.status();
            // Read to the end, so the connection carries the next request; the status is what
            // the service's metrics count too.
            let _ = response.bytes().await;
            Outcome::Answered(status)
        }
        Err(e) if e.is_timeout() => Outcome::Timeout,
        Err(e) if e.is_connect() => Outcome::Connect,
        Err(_) => Outcome::Other,
    };
    (route.name, outcome)
}
