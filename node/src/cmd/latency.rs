//! LATENCY: the latency monitor's events (LATEST, HISTORY, RESET, GRAPH, DOCTOR) from
//! [`crate::state::latency`], and the per-command duration histograms (HISTOGRAM) the
//! command statistics keep ([`crate::stats::CommandStat::hist`]).

use super::{command_table, Ctx};
use crate::stats::{bucket_usec, CommandStat};
use bytes::Bytes;
use picket::resp::Reply;

/// LATENCY LATEST: per event, [name, time of the latest sample, its latency, the maximum].
pub fn latest(ctx: &mut Ctx, _a: &[Bytes]) {
    let ev = &ctx.st.latency.events;
    ctx.out.array(ev.len());
    for (name, s) in ev {
        let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(t);
        ctx.out.int(ms as i64);
        ctx.out.int(s.max as i64);
    }
}

/// LATENCY HISTORY event: its samples, [time, latency] each, oldest first.
pub fn history(ctx: &mut Ctx, a: &[Bytes]) {
    let samples: Vec<(i64, u64)> = match ctx.st.latency.get(&a[2]) {
        Some(s) => s.samples.iter().copied().collect(),
        None => Vec::new(),
    };
    ctx.out.array(samples.len());
    for (t, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(t);
        ctx.out.int(ms as i64);
    }
}

/// LATENCY RESET [event ...]: how many events were reset.
pub fn reset(ctx: &mut Ctx, a: &[Bytes]) {
    let names: Vec<&[u8]> = a[2..].iter().map(|b| &b[..]).collect();
    let n = ctx.st.latency.reset(&names);
    ctx.out.int(n as i64)
}

/// LATENCY GRAPH event: the samples as a text chart, one column per sample.
pub fn graph(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(s) = ctx.st.latency.get(&a[2]) else {
        return ctx.out.error(&format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(&a[2])
        ));
    };
    let name = String::from_utf8_lossy(&a[2]).to_lowercase();
    let (min, max) = s.samples.iter().fold((u64::MAX, 0), |(lo, hi), (_, ms)| {
        (lo.min(*ms), hi.max(*ms))
    });
    let mut text = format!(
        "{name} - high {max} ms, low {min} ms (all time high {} ms)\n",
        s.max
    );
    text.push_str(&"-".repeat(80));
    text.push('\n');
    const ROWS: u64 = 4;
    for row in (1..=ROWS).rev() {
        let line: String = s
            .samples
            .iter()
            .map(|(_, ms)| {
                let level = if max == min {
                    ROWS
                } else {
                    1 + (ms - min) * (ROWS - 1) / (max - min)
                };
                if level >= row {
                    '#'
                } else {
                    ' '
                }
            })
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes())
}

/// LATENCY DOCTOR: a report in words.
pub fn doctor(ctx: &mut Ctx, _a: &[Bytes]) {
    let text = if ctx.st.settings.latency_threshold <= 0 {
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string()
    } else if ctx.st.latency.events.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string()
    } else {
        let mut t = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (name, s)) in ctx.st.latency.events.iter().enumerate() {
            let n = s.samples.len() as u64;
            let avg = s.samples.iter().map(|(_, ms)| ms).sum::<u64>() / n.max(1);
            t.push_str(&format!(
                "{}. {name}: {n} latency spikes (average {avg}ms, worst {}ms).\n",
                i + 1,
                s.max
            ));
        }
        t.push_str("\nI have a few advices for you:\n\n- Check your system for processes using a lot of CPU or I/O, and the slow log (SLOWLOG GET) for the commands that took long.\n");
        t
    };
    ctx.out.verbatim(text.as_bytes())
}

/// One command's histogram: {calls, histogram_usec {µs: cumulative calls}}.
fn histogram_of(out: &mut Reply, s: &CommandStat) {
    let mut points = Vec::new();
    let mut total = 0;
    for (k, n) in s.hist.iter().enumerate() {
        if *n > 0 {
            total += n;
            points.push((bucket_usec(k), total));
        }
    }
    out.map(2);
    out.bulk(b"calls");
    out.int(s.calls as i64);
    out.bulk(b"histogram_usec");
    out.map(points.len());
    for (us, n) in points {
        out.int(us as i64);
        out.int(n as i64);
    }
}

/// LATENCY HISTOGRAM [command ...]: the commands that ran (a container also stands for its
/// subcommands; unknown names are skipped).
pub fn histogram(ctx: &mut Ctx, a: &[Bytes]) {
    let ran = ctx.st.stats.commands();
    let ran: Vec<(&str, &CommandStat)> = ran.into_iter().filter(|(_, s)| s.calls > 0).collect();
    let wanted: Vec<&str> = if a.len() == 2 {
        ran.iter().map(|(n, _)| *n).collect()
    } else {
        let mut names = Vec::new();
        for arg in &a[2..] {
            let Some(c) = command_table().find(arg) else {
                continue;
            };
            let family = std::iter::once(c.name).chain(c.subcommands.iter().map(|s| s.name));
            for n in family {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names
    };
    let chosen: Vec<&(&str, &CommandStat)> =
        ran.iter().filter(|(n, _)| wanted.contains(n)).collect();
    ctx.out.map(chosen.len());
    for (name, s) in chosen {
        ctx.out.bulk(name.as_bytes());
        histogram_of(ctx.out, s);
    }
}

/// LATENCY HELP
pub fn help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ])
}
