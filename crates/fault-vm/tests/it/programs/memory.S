# Loads and stores of every width and sign, at the ends of a 32-byte leaf.
    .include "prologue.inc"
    li s0, 0x8899aabb
    sw s0, 0(sp)
    sw s0, 28(sp)
    sh s0, 32(sp)
    sh s0, 62(sp)
    sb s0, 64(sp)
    sb s0, 95(sp)
    lb a0, 0(sp)
    lbu a1, 0(sp)
    lh a2, 2(sp)
    lhu a3, 2(sp)
    lw a4, 28(sp)
    lb a5, 95(sp)
    lhu a6, 62(sp)
    li s1, -1
    sw s1, 128(sp)
    sb zero, 129(sp)
    sh zero, 130(sp)
    lw a7, 128(sp)
    addi t0, sp, 200
    sw s0, -4(t0)
    lh t1, -2(t0)
    j dump
    .include "epilogue.inc"
