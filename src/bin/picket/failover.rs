//! `picket failover NAME [--coordinated]`: subscribes to every sentinel's events, asks one
//! sentinel to fail over, prints each step with the time since the start until
//! `+switch-master` (or the abort and what to do about it), then the new topology.

use std::time::{Duration, Instant};

use crate::events::{listen, switched_to, Dedup, Report};
use crate::resp::{field, fields, Addr, Conn};
use crate::term::{human, Style};
use crate::{status, Failure, Target};

pub async fn run(name: &str, coordinated: bool, target: &Target) -> Result<(), Failure> {
    let (sentinels, _) = target.resolve()?;
    let style = Style::detect();
    let (mut conn, via) = first_reachable(&sentinels).await?;
    let master = conn
        .cmd(&["SENTINEL", "MASTER", name])
        .await
        .map_err(|e| Failure::failed(format!("{e}; `picket status` lists the masters")))?;
    let timeout_ms: u64 = field(&fields(&master), "failover-timeout")
        .parse()
        .unwrap_or(180_000);

    // Every subscription in place before the failover starts, so no step is missed.
    let mut rx = listen(&sentinels);
    let bar = crate::term::spinner("subscribing to the sentinels' events");
    let mut pending = sentinels.len();
    let subscribed_by = Instant::now() + Duration::from_secs(3);
    while pending > 0 {
        match tokio::time::timeout_at(subscribed_by.into(), rx.recv()).await {
            Ok(Some(Report::Subscribed(_))) => pending -= 1,
            Ok(Some(Report::Lost(..))) => pending -= 1, // an unreachable sentinel is not waited for
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    bar.finish_and_clear();

    let mut cmd = vec!["SENTINEL", "FAILOVER", name];
    if coordinated {
        cmd.push("COORDINATED");
    }
    let started = Instant::now();
    conn.cmd(&cmd).await.map_err(|e| {
        Failure::failed(format!(
            "{e}\n(-NOGOODSLAVE: no replica is fit to be promoted, see `picket status`; -INPROG: a failover is already running)"
        ))
    })?;
    if !target.json {
        println!("failover of {name} started through sentinel {via}");
    }
    let mut steps = Vec::new();
    let mut dedup = Dedup::default();
    let deadline = started + Duration::from_millis(timeout_ms) + Duration::from_secs(5);
    let bar = crate::term::spinner("waiting for +switch-master");
    loop {
        let report = match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => {
                bar.finish_and_clear();
                return Err(Failure::failed(format!(
                    "no +switch-master within the failover timeout ({timeout_ms} ms); the sentinels' logs say why"
                )));
            }
        };
        let Report::Event(e) = report else { continue };
        if !dedup.first(&e, Instant::now()) {
            continue;
        }
        let since = started.elapsed();
        bar.suspend(|| {
            if target.json {
                let mut v = e.json();
                v["since_start_ms"] = (since.as_millis() as u64).into();
                println!("{v}");
            } else {
                println!("{:>9}  {}", human(since), e.line(style));
            }
        });
        steps.push((since, e.channel.clone()));
        if let Some(new) = switched_to(&e, name) {
            bar.finish_and_clear();
            return finish(&sentinels, &new, started.elapsed(), target.json, style).await;
        }
        if e.channel.starts_with("-failover-abort") && e.message.contains(name) {
            bar.finish_and_clear();
            return Err(Failure::failed(abort_advice(&e.channel)));
        }
    }
}

async fn first_reachable(sentinels: &[Addr]) -> Result<(Conn, Addr), Failure> {
    let mut errs = Vec::new();
    for a in sentinels {
        match Conn::connect(a).await {
            Ok(c) => return Ok((c, a.clone())),
            Err(e) => errs.push(e),
        }
    }
    Err(Failure::down(format!(
        "no sentinel answers: {}",
        errs.join("; ")
    )))
}

/// Prints the result once the group has settled on the new master (or after 5 s), in text
/// with the new table, or as one JSON line.
async fn finish(
    sentinels: &[Addr],
    new: &Addr,
    took: Duration,
    json: bool,
    style: Style,
) -> Result<(), Failure> {
    if !json {
        println!(
            "\n{} new master {} after {}\n",
            style.green("done:"),
            style.bold(&new.to_string()),
            human(took)
        );
    }
    let bar = crate::term::spinner("waiting for the sentinels to settle on the new master");
    let (last, sentinels_agree, settled) = settle(sentinels, new).await;
    bar.finish_and_clear();
    if json {
        println!(
            "{}",
            serde_json::json!({"new_master": new.to_string(), "duration_ms": took.as_millis() as u64,
                "sentinels_agree": sentinels_agree, "replicas_follow": settled})
        );
        return Ok(());
    }
    if let Some(t) = last {
        print!("{}", status::render(&t, style));
    }
    if !settled {
        println!(
            "{}",
            style.dim("Some nodes still follow the old master: the sentinels reconfigure them within about 10 s (`picket status` shows it).")
        );
    }
    Ok(())
}

/// Waits up to 5 s until every sentinel has ended the failover and gives clients `new`, and
/// every other node replicates from it. Returns the last table, whether the sentinels agree,
/// and whether the nodes follow too.
async fn settle(sentinels: &[Addr], new: &Addr) -> (Option<status::Topology>, bool, bool) {
    let until = Instant::now() + Duration::from_secs(5);
    let (mut last, mut agree, mut follow) = (None, false, false);
    while Instant::now() < until {
        if let Ok(t) = status::collect(sentinels).await {
            agree = t
                .masters
                .iter()
                .any(|m| m.addr == *new && m.flags == "master")
                && t.sentinels.iter().all(|s| {
                    s.views
                        .iter()
                        .all(|(_, f, at)| f == "master" && *at == new.to_string())
                });
            follow = t.masters.iter().any(|m| {
                m.addr == *new
                    && m.nodes[1..]
                        .iter()
                        .all(|n| n.role == "slave" && n.link == "up")
            });
            last = Some(t);
            if agree && follow {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (last, agree, agree && follow)
}

fn abort_advice(event: &str) -> String {
    let what = match event {
        "-failover-abort-not-elected" => {
            "this sentinel was not elected leader: fewer than a majority of sentinels voted for it; check that they reach each other (`picket status`)"
        }
        "-failover-abort-no-good-slave" => {
            "no replica was fit to promote (all down, disconnected, too far behind, or replica-priority 0); `picket status` shows them"
        }
        "-failover-abort-slave-timeout" => {
            "the chosen replica did not turn into a master in time; look at its log"
        }
        _ => "see the sentinels' logs",
    };
    format!("the failover aborted ({event}): {what}")
}
