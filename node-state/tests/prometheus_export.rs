//! The Prometheus text export, parsed back and checked against what was
//! recorded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use node_state::{Config, Error, NodeState, Role};

/// One sample: metric name and sorted labels -> value.
type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// A small parser of the text exposition format: `# TYPE` lines into
/// `types`, samples `name{k="v",...} value` into `samples`.
fn parse(text: &str) -> (BTreeMap<String, String>, Samples) {
    let mut types = BTreeMap::new();
    let mut samples = Samples::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("TYPE line");
            types.insert(name.to_owned(), ty.to_owned());
            continue;
        }
        if line == "# EOF" {
            assert!(lines.peek().is_none(), "# EOF is the last line");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), Vec::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels: Vec<(String, String)> = body
                    .split(',')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').expect("label k=v");
                        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                        (k.to_owned(), v.expect("quoted label value").to_owned())
                    })
                    .collect();
                labels.sort();
                (name.to_owned(), labels)
            }
        };
        assert!(
            samples.insert((name, labels), value).is_none(),
            "duplicate series in {line}"
        );
    }
    (types, samples)
}

fn get(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.push(("node_id".into(), "3".into()));
    labels.sort();
    *samples
        .get(&(name.to_owned(), labels.clone()))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

#[test]
fn export_parses_back_to_what_was_recorded() {
    let node: NodeState<()> = NodeState::new(Config {
        node_id: 3,
        max_pending_proposals: 2,
    });
    node.membership()
        .update(|m| {
            m.insert(3, Role::Leader, "10.0.0.3:7000".into());
            m.insert(4, Role::Voter, "10.0.0.4:7000".into());
            m.insert(5, Role::Learner, "10.0.0.5:7000".into());
            Ok(())
        })
        .unwrap();
    let now = Instant::now();
    node.peers().heartbeat(4, now, None);
    node.peers().heartbeat(5, now, None);

    let get_cmd = node.metrics().command("get");
    let set_cmd = node.metrics().command("set");
    for _ in 0..3 {
        get_cmd.record(Role::Leader, Duration::from_micros(50)); // in the 40..160 us bucket
    }
    set_cmd.record(Role::Voter, Duration::from_secs(2));
    set_cmd.inc(Role::Voter);

    let p = node.proposals();
    let (a, _rx_a) = p.register_next(now + Duration::from_secs(1)).unwrap();
    let (_b, _rx_b) = p.register_next(now + Duration::from_millis(10)).unwrap();
    assert_eq!(
        p.register_next(now).unwrap_err(),
        Error::Backpressure { capacity: 2 }
    );
    p.complete(&a, ());
    p.expire(now + Duration::from_millis(20));
    let (_c, _rx_c) = p.register_next(now + Duration::from_secs(1)).unwrap();

    let mut text = String::new();
    node.encode_metrics(&mut text).unwrap();
    let (types, s) = parse(&text);

    assert_eq!(types["node_commands"], "counter");
    assert_eq!(types["node_command_duration_seconds"], "histogram");
    assert_eq!(types["node_proposals"], "counter");
    assert_eq!(types["node_pending_proposals"], "gauge");

    let leader_get = [("role", "leader"), ("command", "get")];
    assert_eq!(get(&s, "node_commands_total", &leader_get), 3.0);
    assert_eq!(
        get(
            &s,
            "node_commands_total",
            &[("role", "voter"), ("command", "set")]
        ),
        2.0
    );
    assert_eq!(
        get(
            &s,
            "node_commands_total",
            &[("role", "learner"), ("command", "get")]
        ),
        0.0
    );

    let h = "node_command_duration_seconds";
    assert_eq!(get(&s, &format!("{h}_count"), &leader_get), 3.0);
    let sum = get(&s, &format!("{h}_sum"), &leader_get);
    assert!((sum - 0.000_15).abs() < 1e-12, "sum {sum}");
    let bucket = |le: &str| {
        get(
            &s,
            &format!("{h}_bucket"),
            &[("role", "leader"), ("command", "get"), ("le", le)],
        )
    };
    assert_eq!(bucket("0.00004"), 0.0);
    assert_eq!(bucket("0.00016"), 3.0);
    assert_eq!(bucket("+Inf"), 3.0);
    let voter_set = [("role", "voter"), ("command", "set")];
    assert_eq!(
        get(&s, &format!("{h}_count"), &voter_set),
        1.0,
        "inc() counts without observing"
    );

    let outcome = |o: &str| get(&s, "node_proposals_total", &[("outcome", o)]);
    assert_eq!(outcome("registered"), 3.0);
    assert_eq!(outcome("ok"), 1.0);
    assert_eq!(outcome("timeout"), 1.0);
    assert_eq!(outcome("backpressure"), 1.0);
    assert_eq!(outcome("cancelled"), 0.0);

    assert_eq!(get(&s, "node_pending_proposals", &[]), 1.0);
    assert_eq!(get(&s, "node_membership_version", &[]), 1.0);
    assert_eq!(get(&s, "node_members", &[]), 3.0);
    assert_eq!(get(&s, "node_peers", &[]), 2.0);
    assert_eq!(get(&s, "node_role", &[("role", "leader")]), 1.0);
    assert_eq!(get(&s, "node_role", &[("role", "voter")]), 0.0);

    // Every sample carries the node id.
    for (name, labels) in s.keys() {
        assert!(
            labels.iter().any(|(k, v)| k == "node_id" && v == "3"),
            "{name} lacks node_id"
        );
    }
}
