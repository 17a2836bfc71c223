//! The exit circuit: an account's true balance under the root satisfies it and is proven and
//! verified; a larger amount, another owner, another token or another root do not.

use ark_bn254::Fr;
use loft_zk::{
    exit::{Exit, ExitCircuit, exit_commitment},
    groth16,
    state::{Params, State},
};

const PARAMS: Params = Params { account_depth: 5, balance_depth: 2 };

fn satisfied(c: ExitCircuit) -> bool {
    groth16::check(c).expect("synthesis").0
}

#[test]
fn an_exit_proves_exactly_the_balance() {
    let mut s = State::new(PARAMS);
    s.create_account([0xf0; 20]).expect("operator");
    let alice = s.create_account([0xa; 20]).expect("alice");
    s.credit(alice, 1, 12_345).expect("funds");
    s.credit(alice, 0, 99).expect("funds");
    let exit = Exit::new(&s, alice, 1).expect("exit");
    assert_eq!(exit.amount, 12_345);
    assert!(satisfied(ExitCircuit::new(&exit)));
    let lies = [
        exit_commitment(&exit.root, alice, 1, 12_346, &exit.owner),
        exit_commitment(&exit.root, alice, 1, 12_345, &[0xb; 20]),
        exit_commitment(&exit.root, alice, 0, 12_345, &exit.owner),
        exit_commitment(&exit.root, 0, 1, 12_345, &exit.owner),
        exit_commitment(&(exit.root + Fr::from(1u64)), alice, 1, 12_345, &exit.owner),
    ];
    for commitment in lies {
        assert!(!satisfied(ExitCircuit { commitment, ..ExitCircuit::new(&exit) }));
    }
    let keys =
        groth16::deterministic_setup(ExitCircuit::blank(PARAMS).expect("blank"), [3; 32]).expect("setup");
    let proof = groth16::prove(&keys, ExitCircuit::new(&exit), [4; 32]).expect("prove");
    assert!(groth16::verify(&keys, &[exit.commitment()], &proof));
    assert!(!groth16::verify(&keys, &[lies[0]], &proof));
}
