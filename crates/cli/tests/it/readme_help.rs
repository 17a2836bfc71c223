//! Every `loft` command that README.md shows exists, with every flag README.md shows for it:
//! each command runs with `--help`, which must succeed and name those flags.

use std::process::Command;

/// `(command after "loft", flags)`, the flags space-separated. This table mirrors README.md:
/// a command or flag added to or removed from README.md is added to or removed from it. A
/// command may take several rows, to keep the lines short.
const README: &[(&str, &str)] = &[
    // Two commands; `loft devnet` options
    ("devnet", "--port --host --data-dir --block-time --no-mining --chain-id --accounts"),
    ("devnet", "--l1-rpc --private-key --exit-after-deploy --no-rollup --no-demo"),
    ("devnet", "--l2-port --replica-port --calldata --no-zk --zk-port --sequencer-l1-confs"),
    ("devnet", "--max-channel-duration --zk-account-depth --zk-balance-depth --zk-transfers"),
    // `loft rollup`: a user's side, and more replicas
    ("rollup deposit", "--token --l1-rpc --l2-rpc --replica-rpc --rollup --private-key"),
    ("rollup withdraw", "--token --l1-rpc --l2-rpc --replica-rpc --rollup --private-key"),
    ("rollup prove", "--l1-rpc --l2-rpc --replica-rpc --rollup --private-key"),
    ("rollup finalize", "--l1-rpc --l2-rpc --replica-rpc --rollup --private-key"),
    ("rollup status", "--l1-rpc --l2-rpc --replica-rpc --rollup --private-key"),
    ("rollup replica", "--l1-rpc --addr --sequencer-rpc --no-sequencer"),
    // `loft zk`: the ZK rollup
    ("zk operator", "--token --block-keys --exit-keys"),
    ("zk deposit", "--token --private-key --operator --l1-rpc --deployment"),
    ("zk register", "--private-key --operator --l1-rpc --deployment"),
    ("zk transfer", "--to --token --private-key --operator --l1-rpc --deployment"),
    ("zk withdraw", "--token --private-key --operator --l1-rpc --deployment"),
    ("zk status", "--private-key --operator --l1-rpc --deployment"),
    ("zk exit", "--private-key --operator --l1-rpc --deployment"),
    // `loft channel`: the state-channel network
    ("channel keygen", "--password-file"),
    ("channel node", "--keystore --password-file --dev-account --listen --api --fee-flat --fee-ppm"),
    ("channel node", "--watchtower --data-dir --l1-confirmations"),
    ("channel connect", "--api --json"),
    ("channel open", "--partner --deposit --token --api --json"),
    ("channel deposit", "--channel --total --api --json"),
    ("channel pay", "--to --amount --count --via --api --json"),
    ("channel route", "--to --amount --api --json"),
    ("channel list", "--api --json"),
    ("channel payments", "--api --json"),
    ("channel close", "--channel --unilateral --api --json"),
    ("channel settle", "--channel --api --json"),
    ("channel watchtower", "--dev-account --listen"),
    // Benchmarks
    ("bench l1", "--txs --senders --runs --anvil --skip-anvil"),
    ("bench rollup", "--txs --senders --runs --latency-txs --latency-rate"),
    ("bench zk", "--slots"),
    ("bench channels", "--payments --runs --hop-payments"),
    ("bench fault", "--runs"),
];

/// Whether `help` names `flag` as a whole word, so that `--to` is not found in `--token`.
fn names_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before = help[..i].chars().next_back();
        let after = help[i + flag.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[test]
fn every_command_in_the_readme_has_the_flags_it_shows() {
    let mut problems = Vec::new();
    for &(command, flags) in README {
        let out = Command::new(env!("CARGO_BIN_EXE_loft"))
            .args(command.split_whitespace())
            .arg("--help")
            .output()
            .expect("loft runs");
        let help = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            problems.push(format!("`loft {command} --help` failed ({}): {stderr}", out.status));
            continue;
        }
        for flag in flags.split_whitespace() {
            if !names_flag(&help, flag) {
                problems.push(format!("`loft {command}` has no {flag}"));
            }
        }
    }
    assert!(problems.is_empty(), "README.md shows what loft does not have:\n{}", problems.join("\n"));
}

#[test]
fn flags_are_matched_as_whole_words() {
    let help = "  --token <TOKEN>  the token\n  --to-do, --l1-rpc <URL>\n";
    assert!(names_flag(help, "--token"));
    assert!(names_flag(help, "--l1-rpc"));
    assert!(!names_flag(help, "--to"), "--to is only part of --token and --to-do");
    assert!(!names_flag(help, "--rpc"), "--rpc is only part of --l1-rpc");
}
