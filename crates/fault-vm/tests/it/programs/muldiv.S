# RV32M, with division by zero and the one overflowing division.
    .include "prologue.inc"
    li s0, 0x80000000
    li s1, -1
    li s2, 7
    li s3, -3
    li s4, 0xdeadbeef
    mul a0, s4, s4
    mulh a1, s4, s3
    mulhsu a2, s3, s4
    mulhu a3, s4, s4
    div a4, s2, s3
    divu a5, s4, s2
    rem a6, s3, s2
    remu a7, s4, s2
    div t0, s0, s1           # overflow: MIN
    rem t1, s0, s1           # overflow: 0
    div t2, s2, zero         # by zero: -1
    divu t3, s2, zero        # by zero: 2^32 - 1
    rem t4, s3, zero         # by zero: the dividend
    remu t5, s4, zero
    mulh s5, s0, s0
    mulhsu s6, s0, s1
    mulhu s7, s1, s1
    j dump
    .include "epilogue.inc"
