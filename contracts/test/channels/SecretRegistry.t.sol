// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {ISecretRegistry} from "../../src/channels/ISecretRegistry.sol";
import {SecretRegistry} from "../../src/channels/SecretRegistry.sol";

contract SecretRegistryTest is Test {
    SecretRegistry internal registry;

    function setUp() public {
        registry = new SecretRegistry();
    }

    function test_register_records_the_first_block_only() public {
        bytes32 secret = keccak256("s1");
        bytes32 h = keccak256(abi.encodePacked(secret));
        assertEq(registry.revealBlock(h), 0);
        vm.roll(100);
        vm.expectEmit(true, false, false, true);
        emit ISecretRegistry.SecretRevealed(h, secret);
        assertTrue(registry.registerSecret(secret));
        assertEq(registry.revealBlock(h), 100);
        vm.roll(200);
        assertFalse(registry.registerSecret(secret), "second registration is not new");
        assertEq(registry.revealBlock(h), 100, "the first block stays");
    }

    function test_batch_reports_whether_all_were_new() public {
        bytes32[] memory secrets = new bytes32[](2);
        secrets[0] = bytes32(uint256(1));
        secrets[1] = bytes32(uint256(2));
        vm.roll(7);
        assertTrue(registry.registerSecretBatch(secrets));
        assertEq(registry.revealBlock(keccak256(abi.encodePacked(bytes32(uint256(2))))), 7);
        secrets[1] = bytes32(uint256(3));
        assertFalse(registry.registerSecretBatch(secrets), "secret 1 was known");
        assertEq(registry.revealBlock(keccak256(abi.encodePacked(bytes32(uint256(3))))), 7);
    }

    function test_hash_is_keccak_of_the_secret_not_the_secret() public {
        bytes32 secret = bytes32(uint256(42));
        registry.registerSecret(secret);
        assertEq(registry.revealBlock(secret), 0);
    }
}
